"""The broker restarts during a job, for real: an external one (the test stack's valkey-server,
stopped and started again) and `nnservice up`'s embedded one (its valkey-server killed; the
supervisor starts it again). The API answers throughout, the running job succeeds, and a job sent
after the restart succeeds too."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from stack import child_pids, descendant_pids  # tests/stack.py, loaded by tests/conftest.py

from nnservice.embedded_redis import free_port
from nnservice.supervisor import redis_answers

REPO_ROOT = Path(__file__).resolve().parents[2]
EMILY = {"weight": 128, "height": 63}
BROKER_DOWN_SECONDS = 2.0
#: 2,000 rows x 30,000 epochs: many seconds of training, so the job runs through the outage.
LONG_EPOCHS = 30_000
FINAL = {"succeeded", "failed", "cancelled"}

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]


def _rows(n: int = 2000) -> list[dict]:
    """n seeded synthetic people, half F and half M."""
    rng = np.random.default_rng(7)
    half = n // 2
    weights = np.r_[rng.normal(135, 12, half), rng.normal(175, 15, half)].tolist()
    heights = np.r_[rng.normal(64, 2.5, half), rng.normal(70, 3, half)].tolist()
    return [
        {"weight": w, "height": h, "gender": "F" if i < half else "M"}
        for i, (w, h) in enumerate(zip(weights, heights, strict=True))
    ]


def _train(url: str, epochs: int) -> str:
    body = {"rows": _rows(), "hyperparameters": {"epochs": epochs, "seed": 3}}
    answer = requests.post(f"{url}/train", json=body, timeout=30)
    assert answer.status_code == 202, answer.text
    return answer.json()["job_id"]


def _job(url: str, job_id: str) -> dict:
    return requests.get(f"{url}/jobs/{job_id}", timeout=5).json()


def _wait_state(url: str, job_id: str, states: set[str], timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := _job(url, job_id))["state"] not in states:
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    return job


def _api_answers(url: str) -> None:
    """/healthz and a single-row /predict answer (they never need the broker)."""
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
    assert requests.post(f"{url}/predict", json=EMILY, timeout=5).status_code == 200


def _broker_restart_during_a_job(url: str, stop, start) -> None:
    first = _train(url, epochs=LONG_EPOCHS)
    _wait_state(url, first, {"running"})
    stop()
    assert _job(url, first)["state"] == "running", "the job ended before the broker stopped"
    deadline = time.monotonic() + BROKER_DOWN_SECONDS
    while time.monotonic() < deadline:
        _api_answers(url)
        time.sleep(0.2)
    start()
    _api_answers(url)
    second = _train(url, epochs=10)
    assert _wait_state(url, first, FINAL, timeout=240)["state"] == "succeeded"
    assert _wait_state(url, second, FINAL)["state"] == "succeeded"


def test_an_external_broker_restarts_during_a_job(stack) -> None:
    assert stack.post("/train", json={"rows": _rows(), "hyperparameters": {"epochs": 1}})
    _wait_for_a_model(stack.base_url)
    worker = stack.worker
    _broker_restart_during_a_job(stack.base_url, stack.stop_redis, stack.start_redis)
    assert worker.poll() is None, "the worker exited"


def _wait_for_a_model(url: str) -> None:
    deadline = time.monotonic() + 120
    while requests.post(f"{url}/predict", json=EMILY, timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "no model was trained"
        time.sleep(0.2)


def test_the_embedded_broker_restarts_during_a_job(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("NNSERVICE_")}
    env.pop("REDIS_URL", None)
    env.update(
        NNSERVICE_STORE=str(tmp_path / "store"),
        NNSERVICE_WORKER_CONCURRENCY="1",
        NNSERVICE_API_WORKERS="1",
        NUMBA_CACHE_DIR=str(REPO_ROOT / ".numba_cache"),
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "nnservice.cli", "up", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while "API listening on" not in log.read_text():
            assert up.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        _train(url, epochs=1)
        _wait_for_a_model(url)

        def kill_server() -> None:
            (broker,) = [p for p in child_pids(up.pid) if b"embedded_redis" in _cmdline(p)]
            (server,) = [p for p in child_pids(broker) if b"valkey-server" in _cmdline(p)]
            os.kill(server, signal.SIGKILL)

        def wait_restarted() -> None:
            broker_port = int(
                re.search(r"embedded broker at redis://[0-9.]+:(\d+)", log.read_text())[1]
            )
            deadline = time.monotonic() + 60
            while not (
                "restarted the broker" in log.read_text()
                and redis_answers("127.0.0.1", broker_port)
            ):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)

        _broker_restart_during_a_job(url, kill_server, wait_restarted)
        assert "the worker exited" not in log.read_text()
    finally:
        leftovers = descendant_pids(up.pid)
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(90)
        finally:
            for pid in leftovers:
                with _suppress():
                    os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _suppress():
    import contextlib

    return contextlib.suppress(ProcessLookupError)
