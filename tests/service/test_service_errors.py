"""Every error comes out in one shape {code, status, message, errors}, Flask's own ones too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from stores import object_files

from model_store import ModelStore


def assert_error(response, code: int) -> dict:
    """The response is an error in the common shape with this status; returns its body."""
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == code
    assert body["message"]
    return body


def test_unknown_route_is_a_json_404(client: FlaskClient) -> None:
    assert_error(client.get("/no-such-thing"), 404)


def test_wrong_method_is_a_json_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/predict")
    assert_error(response, 405)
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/datasets/ds-missing", "/jobs/0123abcd", "/models/m-missing"])
def test_unknown_ids_are_404_naming_the_id(client: FlaskClient, path: str) -> None:
    body = assert_error(client.get(path), 404)
    (field,) = body["errors"]
    assert field in ("dataset_id", "job_id", "model_id")


@pytest.mark.parametrize(
    "path",
    [
        "/datasets/..%2f..%2fetc%2fpasswd",
        "/datasets/%2e%2e%2fsecret",
        "/models/%2fetc%2fpasswd",
        "/models/m-1%00x",
        "/jobs/.hidden",
    ],
)
def test_ids_that_are_not_ids_never_reach_the_store(
    client: FlaskClient, store: ModelStore, path: str
) -> None:
    before = object_files(store)
    assert_error(client.get(path), 404)
    assert object_files(store) == before
    assert store.datasets.list().items == store.jobs.list().items == []


def test_wrong_content_type_is_415(client: FlaskClient) -> None:
    body = assert_error(client.post("/predict", data="weight=1", content_type="text/plain"), 415)
    assert "Content-Type" in body["errors"]
    assert_error(client.post("/datasets", data="x", content_type="application/xml"), 415)
    assert_error(client.post("/train", data="{}"), 415)  # no Content-Type at all


def test_broken_json_is_400(client: FlaskClient) -> None:
    body = assert_error(
        client.post("/predict", data="{weight: 1", content_type="application/json"), 400
    )
    assert "body" in body["errors"]


def test_body_over_the_limit_is_413(client: FlaskClient) -> None:
    big = b'{"instances": [' + b" " * 2_000_001 + b"]}"
    body = assert_error(client.post("/predict", data=big, content_type="application/json"), 413)
    assert "body" in body["errors"]


def test_a_crash_is_a_json_500_without_details(client: FlaskClient, store: ModelStore) -> None:
    with store.engine.begin() as connection:  # a row the store could never have written
        connection.execute(
            sa.text(
                "INSERT INTO datasets (id, name, rows, counts, created_us, object_key) "
                "VALUES ('ds-broken', 'x', 1, '{not json', 0, 'datasets/ds-broken.npy')"
            )
        )
    body = assert_error(client.get("/datasets/ds-broken"), 500)
    assert "Traceback" not in body["message"]
