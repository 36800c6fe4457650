"""DELETE /models/{id}, DELETE /datasets/{id}, POST /jobs/{id}/cancel and
DELETE /jobs/{id}?purge=true: 409 naming what still needs the thing, then 204; nothing else
changes."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask.testing import FlaskClient
from stack import wait_until  # tests/stack.py, loaded by tests/conftest.py

from model_store import ModelStore

from .conftest import SEED_ROWS

EMILY = {"weight": 128, "height": 63}


def _queued_job(store: ModelStore, dataset_id: str, **fields: object) -> str:
    job_id = uuid.uuid4().hex
    store.jobs.create({"id": job_id, "dataset_id": dataset_id, "hyperparameters": {}, **fields})
    return job_id


def test_the_latest_model_is_refused_naming_the_alias_then_deleted_once_it_moved(
    client: FlaskClient, saved_model: Callable[..., str]
) -> None:
    first = saved_model()
    refused = client.delete(f"/models/{first}")
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["errors"] == {"aliases": ["latest"]} and "latest" in body["message"]
    assert client.get(f"/models/{first}").status_code == 200

    second = saved_model(flip=True)
    served = client.post("/predict", json=EMILY).get_json()
    listed_before = client.get("/models").get_json()
    deleted = client.delete(f"/models/{first}")
    assert deleted.status_code == 204 and deleted.data == b""

    assert client.get(f"/models/{first}").status_code == 404
    assert client.delete(f"/models/{first}").status_code == 404
    assert client.post("/predict", json=EMILY).get_json() == served
    assert client.get("/models").get_json() == [m for m in listed_before if m["id"] != first]
    assert client.get("/models/latest").get_json()["id"] == second


def test_a_model_held_in_the_pinned_cache_answers_404_once_deleted_anywhere(
    client: FlaskClient, store: ModelStore, saved_model: Callable[..., str]
) -> None:
    saved_model()
    pinned = saved_model(flip=True, promote=False)
    assert client.post("/predict", json={**EMILY, "model_id": pinned}).status_code == 200
    store.models.delete(pinned)  # as another API process would: seen at this one's next poll
    wait_until(
        lambda: client.post("/predict", json={**EMILY, "model_id": pinned}).status_code == 404,
        "the pinned model to answer 404",
        timeout=5,
    )
    gone = client.post("/predict", json={**EMILY, "model_id": pinned})
    assert gone.status_code == 404 and list(gone.get_json()["errors"]) == ["model_id"]
    assert client.post("/predict", json=EMILY).status_code == 200


def test_a_pinned_model_deleted_through_this_process_answers_404_at_once(
    client: FlaskClient, saved_model: Callable[..., str]
) -> None:
    saved_model()
    pinned = saved_model(flip=True, promote=False)
    assert client.post("/predict", json={**EMILY, "model_id": pinned}).status_code == 200
    assert client.delete(f"/models/{pinned}").status_code == 204
    gone = client.post("/predict", json={**EMILY, "model_id": pinned})  # no poll due yet
    assert gone.status_code == 404, gone.get_json()


def test_a_model_an_unfinished_job_starts_from_is_refused_naming_the_job(
    client: FlaskClient, store: ModelStore, saved_model: Callable[..., str]
) -> None:
    saved_model()
    base = saved_model(promote=False)
    dataset_id = client.post("/datasets", json={"rows": SEED_ROWS}).get_json()["id"]
    job_id = _queued_job(store, dataset_id, initial_model_id=base)
    refused = client.delete(f"/models/{base}")
    assert refused.status_code == 409 and refused.get_json()["errors"] == {"jobs": [job_id]}
    assert client.post(f"/jobs/{job_id}/cancel").status_code == 200
    assert client.delete(f"/models/{base}").status_code == 204


def test_a_dataset_is_refused_while_a_job_trains_on_it_and_its_models_keep_serving(
    client: FlaskClient, store: ModelStore, snapshot_body: Callable[..., dict]
) -> None:
    dataset_id = client.post("/datasets", json={"rows": SEED_ROWS}).get_json()["id"]
    other = client.post("/datasets", json={"rows": SEED_ROWS[:2] + SEED_ROWS[:2]}).get_json()["id"]
    model_id = store.models.save(snapshot_body(training={"dataset_id": dataset_id}))["id"]
    store.models.promote(model_id)
    job_id = _queued_job(store, dataset_id)

    refused = client.delete(f"/datasets/{dataset_id}")
    assert refused.status_code == 409
    assert refused.get_json()["errors"] == {"jobs": [job_id]}
    assert job_id in refused.get_json()["message"]

    assert client.post(f"/jobs/{job_id}/cancel").get_json()["state"] == "cancelled"
    assert client.delete(f"/datasets/{dataset_id}").status_code == 204
    assert client.get(f"/datasets/{dataset_id}").status_code == 404
    assert [d["id"] for d in client.get("/datasets").get_json()] == [other]
    model = client.get(f"/models/{model_id}").get_json()
    assert model["training"]["dataset_id"] == dataset_id
    listed = client.get("/models", query_string={"dataset_id": dataset_id}).get_json()
    assert [m["id"] for m in listed] == [model_id]
    assert client.post("/predict", json=EMILY).get_json()["model_id"] == model_id
    assert client.get(f"/jobs/{job_id}").get_json()["dataset_id"] == dataset_id


def test_cancel_by_post_answers_as_delete_did_and_purge_removes_only_finished_jobs(
    client: FlaskClient, store: ModelStore
) -> None:
    dataset_id = client.post("/datasets", json={"rows": SEED_ROWS}).get_json()["id"]
    job_id = _queued_job(store, dataset_id)
    kept = _queued_job(store, dataset_id)
    store.checkpoints.save(job_id, {"epoch": 1})

    not_yet = client.delete(f"/jobs/{job_id}", query_string={"purge": "true"})
    assert not_yet.status_code == 409 and "queued" in not_yet.get_json()["message"]
    cancelled = client.post(f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    assert client.post(f"/jobs/{job_id}/cancel").status_code == 409
    assert client.delete(f"/jobs/{job_id}").status_code == 409  # cancel, as before
    assert client.delete(f"/jobs/{job_id}", query_string={"purge": "false"}).status_code == 409

    purged = client.delete(f"/jobs/{job_id}", query_string={"purge": "true"})
    assert purged.status_code == 204 and purged.data == b""
    assert client.get(f"/jobs/{job_id}").status_code == 404
    assert store.checkpoints.load(job_id) is None
    assert client.delete(f"/jobs/{job_id}", query_string={"purge": "true"}).status_code == 404
    assert [job["job_id"] for job in client.get("/jobs").get_json()] == [kept]
    assert client.post(f"/jobs/{uuid.uuid4().hex}/cancel").status_code == 404


def test_the_openapi_document_lists_the_new_operations_and_their_statuses(
    client: FlaskClient,
) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    for path, method, statuses in (
        ("/models/{model_id}", "delete", {"204", "401", "404", "409", "507"}),
        ("/datasets/{dataset_id}", "delete", {"204", "401", "404", "409", "507"}),
        ("/jobs/{job_id}", "delete", {"200", "202", "204", "400", "404", "409", "422"}),
        ("/jobs/{job_id}/cancel", "post", {"200", "202", "401", "404", "409", "507"}),
    ):
        assert statuses <= set(paths[path][method]["responses"]), (path, method)
    purge = [p for p in paths["/jobs/{job_id}"]["delete"]["parameters"] if p["name"] == "purge"]
    assert purge and purge[0]["in"] == "query"


def test_latest_is_no_model_id_to_delete(
    client: FlaskClient, saved_model: Callable[..., str]
) -> None:
    latest = saved_model()
    assert client.delete("/models/latest").status_code == 405
    assert "DELETE" not in client.options("/models/latest").headers["Allow"]
    assert "DELETE" in client.options(f"/models/{latest}").headers["Allow"]
    assert client.delete("/models/latest-but-not-quite").status_code == 404
    assert client.get("/models/latest").get_json()["id"] == latest
