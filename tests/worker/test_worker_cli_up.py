"""`nnservice up` for real: with no REDIS_URL it starts a broker, a worker and the API, and stops
all of them cleanly on SIGTERM or SIGINT; if one of them dies, the rest are stopped too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from stack import alive, child_pids, descendant_pids  # tests/stack.py, loaded by tests/conftest.py

from nnservice.embedded_redis import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def up(tmp_path: Path):
    """Start `nnservice up` on a free port with no REDIS_URL; yields (process, url, log path)."""
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
        process = subprocess.Popen(
            [sys.executable, "-m", "nnservice.cli", "up", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, f"http://127.0.0.1:{port}", log
    finally:
        leftovers = descendant_pids(process.pid)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for pid in leftovers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def _wait_healthy(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    else:
        pytest.fail(f"nnservice up never answered /healthz:\n{log.read_text()}")
    # The announcement comes once the API answers.
    while "API listening on" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_up_starts_everything_and_stops_cleanly(up, stop_signal: int) -> None:
    process, url, log = up
    _wait_healthy(process, url, log)
    started = descendant_pids(process.pid)
    commands = " ".join(Path(f"/proc/{pid}/cmdline").read_text() for pid in started)
    assert "valkey-server" in commands
    assert "worker" in commands and "api" in commands
    assert (log.parent / "store" / "valkey").is_dir(), "the broker keeps its data in the store"

    process.send_signal(stop_signal)

    assert process.wait(90) == 0, log.read_text()
    assert not [pid for pid in started if alive(pid)], "a child of nnservice up survived it"
    text = log.read_text()
    assert f"API listening on {url}" in text
    assert "nnservice: stopped" in text


@pytest.mark.parametrize(("child", "name"), [("api", "api"), ("valkey-server", "broker")])
def test_up_stops_everything_and_fails_when_a_child_dies(up, child: str, name: str) -> None:
    process, url, log = up
    _wait_healthy(process, url, log)
    started = descendant_pids(process.pid)
    victim = next(
        pid
        for pid in child_pids(process.pid)
        if child.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    )

    os.killpg(victim, signal.SIGKILL)

    assert process.wait(90) == 1, log.read_text()
    assert not [pid for pid in started if alive(pid)]
    assert f"the {name} exited unexpectedly" in log.read_text()
