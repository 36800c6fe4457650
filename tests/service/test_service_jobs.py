"""Job bodies name the job's id `job_id`, as POST /train and the event stream do; `id` stays as
a deprecated alias for older clients."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient

from model_store import ModelStore

from .conftest import SEED_ROWS


def _queued_job(client: FlaskClient, store: ModelStore) -> str:
    dataset_id = client.post("/datasets", json={"rows": SEED_ROWS}).get_json()["id"]
    job_id = uuid.uuid4().hex
    store.jobs.create({"id": job_id, "dataset_id": dataset_id, "hyperparameters": {}})
    return job_id


def test_a_job_body_names_its_id_job_id_with_id_as_an_alias(
    client: FlaskClient, store: ModelStore
) -> None:
    job_id = _queued_job(client, store)

    one = client.get(f"/jobs/{job_id}").get_json()
    (listed,) = client.get("/jobs").get_json()
    cancelled = client.delete(f"/jobs/{job_id}").get_json()

    for body in (one, listed, cancelled):
        assert body["job_id"] == job_id
        assert body["id"] == job_id


def test_the_schema_documents_job_id_and_the_alias_as_deprecated(client: FlaskClient) -> None:
    job = client.get("/openapi.json").get_json()["components"]["schemas"]["Job"]
    assert "job_id" in job["required"]
    assert "job_id" in job["properties"]
    assert job["properties"]["id"]["deprecated"] is True
    assert "deprecated" in job["properties"]["id"]["description"].lower()
