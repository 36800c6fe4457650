"""Training jobs against the real stack: 10,000 people (`nnservice example-data`'s, and the real
file where it is found), cancelling, promoting an older model."""

from __future__ import annotations

import time

from people_data import example_people_tsv, real_data_tsv  # tests/people_data.py

from .conftest import EMILY, SEED_ROWS

SWAPPED_ROWS = [{**row, "gender": "M" if row["gender"] == "F" else "F"} for row in SEED_ROWS]


def upload_tsv(stack, name: str, tsv: bytes) -> dict:
    response = stack.post(
        f"/datasets?name={name}",
        data=tsv,
        headers={"Content-Type": "text/tab-separated-values"},
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def train(stack, **body: object) -> str:
    response = stack.post("/train", json=body)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def eventually(answer, expected, limit: float = 5.0) -> bool:
    """Whether `answer()` gives `expected` within `limit` seconds (a promotion reaches every
    API process within a second; the limit only bounds a broken run)."""
    deadline = time.monotonic() + limit
    while answer() != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def train_five_epochs_unpromoted(stack, tsv: bytes, name: str) -> dict:
    """Upload 10,000 people, train 5 epochs holding out a fifth, without promoting; the job."""
    dataset = upload_tsv(stack, name, tsv)
    assert dataset["rows"] == 10_000 and dataset["counts"] == {"F": 5_000, "M": 5_000}
    job_id = train(
        stack,
        dataset_id=dataset["id"],
        hyperparameters={"epochs": 5, "validation_fraction": 0.2, "seed": 1},
        promote=False,
    )
    job = stack.wait_for_job(job_id, timeout=120)
    assert job["state"] == "succeeded", job
    assert stack.get("/models/latest").json().get("id") != job["model_id"]  # promote: false
    return job


def test_ten_thousand_example_people_reach_eighty_percent_validation_accuracy(stack) -> None:
    """Realistic people overlap (the best straight boundary gets about 83 %: see
    tests/neural/test_neural_real_data.py)."""
    job = train_five_epochs_unpromoted(stack, example_people_tsv(), "people-10k")
    assert job["metrics"]["validation_accuracy"] >= 0.80


def test_ten_thousand_real_people_reach_ninety_percent_validation_accuracy(stack) -> None:
    job = train_five_epochs_unpromoted(stack, real_data_tsv(), "weight-height")
    assert job["metrics"]["validation_accuracy"] >= 0.90


def test_cancelling_queued_and_running_jobs(stack) -> None:
    dataset = upload_tsv(stack, "people-10k", example_people_tsv())
    long_job = {"dataset_id": dataset["id"], "hyperparameters": {"epochs": 20_000}}
    # The test stack runs 2 training processes: the first two jobs run, the third waits.
    running = [train(stack, **long_job) for _ in range(2)]
    queued = train(stack, **long_job)
    for job_id in running:
        stack.wait_for_job(job_id, states=("running",), timeout=60)

    response = stack.delete(f"/jobs/{queued}")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"

    for job_id in running:
        response = stack.delete(f"/jobs/{job_id}")
        assert response.status_code == 202, response.text
    for job_id in [*running, queued]:
        job = stack.wait_for_job(job_id, timeout=60)
        assert job["state"] == "cancelled", job
        assert job["model_id"] is None
        assert job["progress"]["epoch"] < 20_000
    made_by = {m["job_id"] for m in stack.get("/models").json()}
    assert made_by.isdisjoint({*running, queued})

    again = stack.delete(f"/jobs/{queued}")
    assert again.status_code == 409
    assert "state" in again.json()["errors"]


def test_promoting_an_older_model_changes_predict_without_restart(stack) -> None:
    seed_job = train(stack, rows=SEED_ROWS, hyperparameters={"seed": 937})
    older = stack.wait_for_job(seed_job, timeout=120)["model_id"]
    swapped_job = train(stack, rows=SWAPPED_ROWS, hyperparameters={"seed": 937})
    newer = stack.wait_for_job(swapped_job, timeout=120)["model_id"]
    assert older and newer

    # Several requests, so that both gunicorn workers answer at least once.
    def predictions() -> set[tuple[str, str]]:
        answers = [stack.post("/predict", json=EMILY).json() for _ in range(6)]
        return {(a["model_id"], a["predictions"][0]["gender"]) for a in answers}

    assert eventually(predictions, {(newer, "M")})
    promoted = stack.post(f"/models/{older}/promote")
    assert promoted.status_code == 200 and promoted.json()["is_latest"] is True
    assert eventually(predictions, {(older, "F")})
    assert stack.get("/models/latest").json()["id"] == older


def test_training_continues_from_an_initial_model(stack) -> None:
    first = stack.wait_for_job(train(stack, rows=SEED_ROWS, hyperparameters={"seed": 3}))
    assert first["state"] == "succeeded", first
    body = {
        "rows": SEED_ROWS,
        "initial_model_id": first["model_id"],
        "hyperparameters": {"epochs": 5},
    }
    job = stack.wait_for_job(train(stack, **body), timeout=60)
    assert job["state"] == "succeeded", job
    assert job["initial_model_id"] == first["model_id"]
    snapshot = stack.get(f"/models/{job['model_id']}").json()
    assert snapshot["training"]["initial_model_id"] == first["model_id"]
    assert snapshot["layer_sizes"] == [2, 2, 1]
