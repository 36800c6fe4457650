"""Models: import (validated), export, listing, latest and promotion."""

from __future__ import annotations

from flask.testing import FlaskClient
from stores import snapshot_object_path

from model_store import ModelStore


def test_import_then_export_round_trip(client: FlaskClient, snapshot_body) -> None:
    response = client.post("/models", json=snapshot_body())
    assert response.status_code == 201
    stored = response.get_json()
    assert response.headers["Location"] == f"/models/{stored['id']}"
    exported = client.get(f"/models/{stored['id']}").get_json()
    assert exported == stored
    again = client.post("/models", json=exported)
    assert again.status_code == 200
    assert again.get_json()["id"] == stored["id"]


def test_import_names_the_bad_field(client: FlaskClient, snapshot_body) -> None:
    cases = {
        "weights": snapshot_body(weights=[[[1.0, 1.0]], [[1.0, 1.0]]]),
        "layer_sizes": snapshot_body(layer_sizes=[3, 2, 1]),
        "activation": snapshot_body(activation="relu"),
        "normalization": snapshot_body(normalization={"mean": [0.0, 0.0], "scale": [1.0, 0.0]}),
        "extra": {**snapshot_body(), "extra": 1},
        "biases": snapshot_body(biases=[[0.0, "x"], [0.0]]),
    }
    for field, body in cases.items():
        response = client.post("/models", json=body)
        assert response.status_code == 422, (field, response.get_json())
        assert field in response.get_json()["errors"], (field, response.get_json())


def test_an_altered_export_is_refused(client: FlaskClient, snapshot_body) -> None:
    exported = client.post("/models", json=snapshot_body()).get_json()
    exported["biases"][1][0] = 5.0
    response = client.post("/models", json=exported)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["sha256"]


def test_latest_and_promote(client: FlaskClient, saved_model) -> None:
    assert client.get("/models/latest").status_code == 404
    first = saved_model()
    second = saved_model(promote=False)
    assert client.get("/models/latest").get_json()["id"] == first
    response = client.post(f"/models/{second}/promote")
    assert response.status_code == 200
    assert response.get_json()["id"] == second and response.get_json()["is_latest"] is True
    assert client.get("/models/latest").get_json()["id"] == second
    listing = client.get("/models").get_json()
    assert {m["id"]: m["is_latest"] for m in listing} == {first: False, second: True}
    assert client.post("/models/m-nope/promote").status_code == 404


def test_a_corrupt_model_cannot_be_promoted_or_fetched(
    client: FlaskClient, store: ModelStore, saved_model
) -> None:
    model_id = saved_model(promote=False)
    snapshot_object_path(store, model_id).write_text("not json")
    for response in (client.get(f"/models/{model_id}"), client.post(f"/models/{model_id}/promote")):
        assert response.status_code == 409
        assert model_id in response.get_json()["message"]


def test_a_jobs_model_id_cannot_be_imported_even_claiming_the_job(
    client: FlaskClient, store: ModelStore, snapshot_body
) -> None:
    """`m-<job id>` belongs to that job alone, from its creation: POST /models gets 409, also with
    `training.job_id` naming the job, and the job later saves its own snapshot under it."""
    store.jobs.create({"id": "job1", "dataset_id": "ds-x"})
    for training in ({}, {"job_id": "job1"}):
        body = snapshot_body(id="m-job1", training=training)
        response = client.post("/models", json=body)
        assert response.status_code == 409, response.get_json()
        assert response.get_json()["errors"] == {
            "id": ["The id 'm-job1' is taken (by another model, or a job's model)."]
        }
    assert client.get("/models/m-job1").status_code == 404
    assert store.models.list().items == []


def test_any_taken_id_is_409_and_the_same_snapshot_again_is_200(
    client: FlaskClient, snapshot_body
) -> None:
    first = client.post("/models", json=snapshot_body(id="m-mine"))
    assert first.status_code == 201
    again = client.post("/models", json={**snapshot_body(id="m-mine"), **first.get_json()})
    assert again.status_code == 200 and again.get_json() == first.get_json()
    other = client.post("/models", json=snapshot_body(id="m-mine", flip=True))
    assert other.status_code == 409
    assert list(other.get_json()["errors"]) == ["id"]
