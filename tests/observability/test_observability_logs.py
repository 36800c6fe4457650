"""The stack's logs are JSON lines; the API's carry the request id of the request they are about,
the worker's the job id of the job they are about."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import requests

from .conftest import EMILY, SNAPSHOT, json_lines, wait_for_lines


def logged_with_access_lines(log: Path, request_ids: list[str], timeout: float = 15.0) -> list:
    """The lines of `log` that carry a request id, once every one of `request_ids` has its
    access line (gunicorn writes it after the answer, so the request's own lines are in)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in json_lines(log) if line.get("request_id")]
        accessed = {line["request_id"] for line in lines if line["logger"] == "gunicorn.access"}
        if accessed >= set(request_ids) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_api_lines_carry_the_request_id(stack) -> None:
    """The request during which an API process notices a promotion carries its request id on
    the "serving model" line as on its access line."""
    previous = stack.store.models.latest_id()
    model_id = stack.store.models.save({**SNAPSHOT, "loss": "log_loss"})["id"]
    assert stack.post(f"/models/{model_id}/promote").status_code == 200
    try:
        request_ids, deadline = [], time.monotonic() + 10
        while True:  # until both API processes answer with the new model (within a poll each)
            request_id = f"obs-{uuid.uuid4()}"
            request_ids.append(request_id)
            response = requests.post(
                stack.base_url + "/predict", json=EMILY, headers={"X-Request-ID": request_id}
            )
            assert response.status_code == 200
            assert response.headers["X-Request-ID"] == request_id
            answered = response.json()["model_id"]
            if answered == model_id and len(request_ids) >= 6:
                break
            assert time.monotonic() < deadline, f"still served {answered}"
        lines = logged_with_access_lines(stack.root / "api.log", request_ids)
        noticed = [
            line
            for line in lines
            if line["logger"] == "service.model_cache"
            and line["request_id"] in request_ids
            and line["message"].startswith(f"serving model {model_id}")
        ]
        assert noticed, "no request carried the 'serving model' line"
        for line in noticed:
            access = [
                other
                for other in lines
                if other["request_id"] == line["request_id"]
                and other["logger"] == "gunicorn.access"
            ]
            assert len(access) == 1
            assert (access[0]["method"], access[0]["path"], access[0]["status"]) == (
                "POST",
                "/predict",
                200,
            )
            assert access[0]["duration_ms"] >= 0 and access[0]["process"] == line["process"]
        assert len(json_lines(stack.root / "api.log")) > len(lines)  # and every line is JSON
    finally:
        if previous is not None:
            stack.store.models.promote(previous)
            stack.wait_until_served(previous)


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
