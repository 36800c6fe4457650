"""Redis stopped while the API runs (issue 4, item 2), on the session stack's real processes.

With valkey-server stopped: /predict keeps answering 200 from the store, reads answer, a queued
job can still be cancelled, POST /train answers 503 saying Redis is unreachable and leaves no job
behind, /readyz answers 503 naming Redis. Once valkey-server is back on the same port, training
works again with the same API and worker processes (nothing restarted).
"""

from __future__ import annotations

import uuid

import pytest
import requests

from .conftest import EMILY, SEED_ROWS, SNAPSHOT

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]


def _promote_a_model(stack) -> str:
    imported = stack.post("/models", json=SNAPSHOT)
    assert imported.status_code == 201, imported.text
    model_id = imported.json()["id"]
    assert stack.post(f"/models/{model_id}/promote").status_code == 200
    stack.wait_until_served(model_id)  # every API process has seen the promotion
    return model_id


def test_redis_down_predict_serves_train_is_503_then_training_resumes(stack) -> None:
    model_id = _promote_a_model(stack)
    queued = stack.store.jobs.create({"id": uuid.uuid4().hex, "dataset_id": "ds-none"}).id
    pids = (stack.api.pid, stack.worker.pid)
    jobs_before = len(stack.store.jobs.list(limit=1000).items)

    stack.stop_redis()
    try:
        for _ in range(12):  # a new connection each time, so every API worker process answers
            response = requests.post(stack.base_url + "/predict", json=EMILY, timeout=10)
            assert response.status_code == 200, response.text
            assert response.json()["model_id"] == model_id
        pinned = stack.post("/predict", json={"instances": [EMILY] * 3, "model_id": model_id})
        assert pinned.status_code == 200
        for path in ("/models", "/jobs", "/datasets", f"/models/{model_id}", "/healthz"):
            assert stack.get(path).status_code == 200, path
        assert stack.delete(f"/jobs/{queued}").json()["state"] == "cancelled"

        refused = stack.post("/train", json={"rows": SEED_ROWS})
        assert refused.status_code == 503, refused.text
        body = refused.json()
        assert "Redis" in body["message"] and "not created" in body["message"]
        assert list(body["errors"]) == ["broker"]
        assert len(stack.store.jobs.list(limit=1000).items) == jobs_before

        ready = stack.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["message"].startswith("not ready: redis")
        assert "Redis does not answer PING" in ready.json()["errors"]["redis"][0]
    finally:
        stack.start_redis()

    stack.wait_ready(timeout=90)
    body = {"rows": SEED_ROWS, "hyperparameters": {"epochs": 20, "seed": 3}, "promote": False}
    accepted = stack.post("/train", json=body)
    assert accepted.status_code == 202, accepted.text
    job = stack.wait_for_job(accepted.json()["job_id"], timeout=90)
    assert job["state"] == "succeeded", job
    assert (stack.api.pid, stack.worker.pid) == pids  # neither was restarted
