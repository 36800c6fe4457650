"""The seed's walkthrough over HTTP against the real stack (valkey-server, a Celery worker,
the API under gunicorn): upload Alice, Bob, Charlie and Diana, train, poll, predict Emily and
Frank. The request bodies come from docs/seed_walkthrough.json, which the README uses too."""

from __future__ import annotations

import time

import pytest

from foundation.hyperparameters import DEFAULTS

from .conftest import SEED_ROWS, WALKTHROUGH


def test_seed_walkthrough(stack) -> None:
    upload = stack.post("/datasets", json=WALKTHROUGH["upload"])
    assert upload.status_code in (200, 201), upload.text
    dataset = upload.json()
    assert dataset["id"] == WALKTHROUGH["train"]["dataset_id"]
    assert dataset["rows"] == 4 and dataset["counts"] == {"F": 2, "M": 2}

    started = stack.post("/train", json=WALKTHROUGH["train"])
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    assert started.headers["Location"] == started.json()["status_url"] == f"/jobs/{job_id}"

    job = stack.wait_for_job(job_id, timeout=120)
    assert job["state"] == "succeeded", job
    assert job["progress"]["epoch"] == job["progress"]["epochs"] == 1000
    assert job["metrics"]["train_accuracy"] == 1.0
    assert job["loss_history"] and job["loss_history"][-1] < job["loss_history"][0]
    # Every hyperparameter the walkthrough sends, and the defaults of those it leaves out.
    assert job["hyperparameters"] == {**DEFAULTS, **WALKTHROUGH["train"]["hyperparameters"]}

    deadline = time.monotonic() + 5  # a promotion reaches every API process within a second
    answer = stack.post("/predict", json=WALKTHROUGH["predict"])
    while answer.json().get("model_id") != job["model_id"] and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = stack.post("/predict", json=WALKTHROUGH["predict"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_id"] == job["model_id"]
    emily, frank = answer.json()["predictions"]
    assert emily["gender"] == "F" and frank["gender"] == "M"
    expected_emily, expected_frank = WALKTHROUGH["expected"]
    assert emily["probability_female"] == pytest.approx(
        expected_emily["probability_female"], abs=0.02
    )
    assert frank["probability_female"] == pytest.approx(
        expected_frank["probability_female"], abs=0.02
    )


def test_reupload_gives_the_same_id_and_200(stack) -> None:
    rows = [
        {"weight": 101, "height": 61, "gender": "F"},
        {"weight": 201, "height": 71, "gender": "M"},
    ]
    first = stack.post("/datasets", json={"name": "first", "rows": rows})
    assert first.status_code == 201, first.text
    again = stack.post("/datasets", json={"name": "again", "rows": rows})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    listed = [d["id"] for d in stack.get("/datasets").json()]
    assert listed.count(first.json()["id"]) == 1


def test_a_seed_of_null_is_drawn_and_recorded(stack) -> None:
    body = {"rows": SEED_ROWS, "hyperparameters": {"epochs": 5}}
    job_id = stack.post("/train", json=body).json()["job_id"]
    job = stack.wait_for_job(job_id, timeout=60)
    assert job["state"] == "succeeded", job
    assert isinstance(job["hyperparameters"]["seed"], int)
    snapshot = stack.get(f"/models/{job['model_id']}").json()
    assert snapshot["training"]["seed"] == job["hyperparameters"]["seed"]
