"""The stack's logs are JSON lines; the API's carry the request id of the request they are about,
the worker's the job id of the job they are about."""

from __future__ import annotations

import re
import uuid

from .conftest import EMILY, json_lines, wait_for_lines


def test_api_lines_carry_the_request_id(stack, promoted: str) -> None:
    request_id = f"obs-{uuid.uuid4()}"
    # The first predict after a promotion makes the API log which model it now serves.
    response = stack.post("/predict", json=EMILY, headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == request_id

    lines = wait_for_lines(stack.root / "api.log", "request_id", request_id, count=2)
    by_logger = {line["logger"]: line for line in lines}
    assert by_logger["service.model_cache"]["message"].startswith(f"serving model {promoted}")
    access = by_logger["gunicorn.access"]
    assert (access["method"], access["path"], access["status"]) == ("POST", "/predict", 200)
    assert access["duration_ms"] >= 0
    assert all(line["process"] == access["process"] for line in lines)
    assert len(json_lines(stack.root / "api.log")) > len(lines)  # and every line is JSON


def test_a_request_id_is_made_when_none_or_an_unsafe_one_is_given(stack) -> None:
    made = stack.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    unsafe = stack.get("/healthz", headers={"X-Request-ID": 'x" "level": "CRITICAL'})
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["X-Request-ID"])
    assert stack.get("/healthz").headers["X-Request-ID"] != made


def test_worker_lines_about_a_job_carry_its_id(stack) -> None:
    rows = [
        {"weight": 133, "height": 65, "gender": "F"},
        {"weight": 160, "height": 72, "gender": "M"},
    ]
    body = {"rows": rows, "hyperparameters": {"epochs": 20, "seed": 5}, "promote": False}
    job_id = stack.post("/train", json=body).json()["job_id"]
    assert stack.wait_for_job(job_id)["state"] == "succeeded"

    log = stack.root / "worker.log"
    tagged = wait_for_lines(log, "job_id", job_id, count=2)
    received = [line for line in tagged if "received" in line["message"]]
    succeeded = [line for line in tagged if "succeeded" in line["message"]]
    assert received and succeeded, tagged
    # Tagged in the main process from the task's arguments, in the pool child from the context.
    assert received[0]["process"] == stack.worker.pid
    assert succeeded[0]["process"] in stack.worker_child_pids()
    about_the_job = [line for line in json_lines(log) if job_id in line["message"]]
    assert about_the_job and all(line.get("job_id") == job_id for line in about_the_job)
