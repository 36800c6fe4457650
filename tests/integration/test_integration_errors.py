"""Every error status over real HTTP, each in the common shape and naming the field."""

from __future__ import annotations

import pytest

from .conftest import EMILY, SEED_ROWS


def error_fields(response, status: int) -> dict:
    """Check the status and the common error shape; return `errors`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == status and body["message"]
    return body["errors"]


@pytest.fixture(scope="module")
def fresh_stack(stack_factory):
    """An empty store, a 4 kB body limit and a job budget of 1000 sample-steps."""
    started = stack_factory(
        NNSERVICE_MAX_BODY_BYTES="4096",
        NNSERVICE_JOB_BUDGET="1000",
        NNSERVICE_WORKER_CONCURRENCY="1",
    )
    yield started
    started.close()


def test_409_before_any_model_and_413_over_the_body_limit(fresh_stack) -> None:
    errors = error_fields(fresh_stack.post("/predict", json=EMILY), 409)
    assert "model_id" in errors
    big = {"instances": [EMILY] * 200}
    assert "body" in error_fields(fresh_stack.post("/predict", json=big), 413)


def test_404_names_the_id(stack) -> None:
    assert "dataset_id" in error_fields(stack.get("/datasets/ds-nope"), 404)
    assert "job_id" in error_fields(stack.get("/jobs/nope"), 404)
    assert "model_id" in error_fields(stack.get("/models/m-nope"), 404)
    assert "dataset_id" in error_fields(stack.post("/train", json={"dataset_id": "ds-no"}), 404)
    error_fields(stack.get("/datasets/..%2f..%2fetc%2fpasswd"), 404)


def test_405_and_415(stack) -> None:
    response = stack.delete("/predict")
    error_fields(response, 405)
    assert "POST" in response.headers["Allow"]
    response = stack.post("/predict", data="weight=1", headers={"Content-Type": "text/plain"})
    assert "Content-Type" in error_fields(response, 415)


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/predict", '{"weight": NaN, "height": 63}', {"weight"}),
        ("/predict", '{"weight": 128, "height": Infinity}', {"height"}),
        ("/predict", '{"weight": -1, "height": 63}', {"weight"}),
        ("/predict", '{"weight": 0, "height": 63}', {"weight"}),
        ("/predict", '{"weight": 12800, "height": 63}', {"weight"}),
        ("/predict", '{"weight": "128", "height": 63}', {"weight"}),
        ("/predict", '{"weight": 128}', {"height"}),
        ("/predict", '{"weight": 128, "height": 63, "x": 1}', {"x"}),
        ("/datasets", '{"rows": []}', {"rows"}),
        ("/datasets", '{"rows": [{"weight": 133, "height": 65, "gender": "F"}]}', {"rows"}),
        ("/datasets", '{"rows": [{"weight": 133, "height": 65, "gender": "X"}]}', {"rows"}),
        ("/train", '{"dataset_id": "ds-x", "hyperparameters": {"epochz": 1}}', {"hyperparameters"}),
        ("/train", '{"dataset_id": "ds-x", "hyperparameters": {"epochs": 0}}', {"hyperparameters"}),
        ("/models", '{"layer_sizes": [2, 1]}', {"weights", "biases", "activation", "loss"}),
    ],
)
def test_422_names_the_field(stack, path: str, body: str, expected: set) -> None:
    response = stack.post(path, data=body, headers={"Content-Type": "application/json"})
    assert expected <= set(error_fields(response, 422))


def test_422_for_a_batch_names_the_row(stack) -> None:
    instances = [EMILY] * 30
    instances[17] = {"weight": 128, "height": "tall"}
    errors = error_fields(stack.post("/predict", json={"instances": instances}), 422)
    assert errors == {"instances": {"17": {"height": ["Not a valid number."]}}}
    errors = error_fields(stack.post("/predict", json={"instances": [EMILY] * 10_001}), 422)
    assert "instances" in errors


def test_422_for_a_job_over_the_budget(fresh_stack) -> None:
    body = {"rows": SEED_ROWS, "hyperparameters": {"epochs": 251}}  # 1004 > 1000 sample-steps
    errors = error_fields(fresh_stack.post("/train", json=body), 422)
    assert "at most 250 epochs" in errors["hyperparameters"]["epochs"][0]
    assert fresh_stack.get("/jobs").json() == []


def test_422_for_a_ragged_or_non_utf8_upload(stack) -> None:
    headers = {"Content-Type": "text/csv"}
    ragged = b"weight,height,gender\n133,65,F\n160,72\n"
    errors = error_fields(stack.post("/datasets", data=ragged, headers=headers), 422)
    assert list(errors["file"]) == ["line 3"]
    latin1 = "weight,height,gender\n133,65,F\n160,72,M\u00e4\n".encode("latin-1")
    errors = error_fields(stack.post("/datasets", data=latin1, headers=headers), 422)
    assert list(errors["file"]) == ["line 3"]


def test_503_while_redis_is_down_then_training_works_again(stack) -> None:
    stack.stop_redis()
    try:
        response = stack.post("/train", json={"rows": SEED_ROWS})
        assert "broker" in error_fields(response, 503)
        assert "redis" in error_fields(stack.get("/readyz"), 503)
        assert stack.post("/predict", json=EMILY).status_code in (200, 409)
    finally:
        stack.start_redis()
    stack.wait_ready(timeout=60)
    job_id = stack.post("/train", json={"rows": SEED_ROWS, "hyperparameters": {"epochs": 5}})
    assert job_id.status_code == 202, job_id.text
    assert stack.wait_for_job(job_id.json()["job_id"], timeout=60)["state"] == "succeeded"
