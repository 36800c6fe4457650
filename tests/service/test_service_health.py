"""/healthz always answers; /readyz names what is missing (here Redis and so the workers)."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_names_redis_and_workers_when_the_broker_is_down(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert set(body["errors"]) == {"redis", "workers"}
    assert "redis" in body["message"] and "workers" in body["message"]
    assert "store" not in body["errors"]


def test_readyz_names_a_store_that_cannot_be_written(client: FlaskClient, store) -> None:
    probes = store.objects.root / "probes"
    probes.parent.mkdir(parents=True, exist_ok=True)
    probes.write_text("a file where the object store needs a directory")
    body = client.get("/readyz").get_json()
    assert body["code"] == 503
    assert "store" in body["errors"] and "store" in body["message"]
