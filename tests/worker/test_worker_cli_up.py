"""`nnservice up` for real: with no REDIS_URL it starts a broker, a worker and the API and stops
all of them cleanly on SIGTERM or SIGINT; a child that dies is restarted and nothing else stops;
SIGKILL of `nnservice up` leaves no process behind; a second one on the same store refuses."""

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


def _up_env(store: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NNSERVICE_")}
    env.pop("REDIS_URL", None)
    env.update(
        NNSERVICE_STORE=str(store),
        NNSERVICE_WORKER_CONCURRENCY="1",
        NNSERVICE_API_WORKERS="1",
        NUMBA_CACHE_DIR=str(REPO_ROOT / ".numba_cache"),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def up(tmp_path: Path):
    """Start `nnservice up` on a free port with no REDIS_URL; yields (process, url, log path)."""
    port = free_port()
    env = _up_env(tmp_path / "store")
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


def _child(up_pid: int, marker: str) -> int:
    """The pid of `nnservice up`'s child whose command line contains `marker`."""
    return next(
        pid
        for pid in child_pids(up_pid)
        if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    )


def _wait_for(condition, what: str, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text()}"
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("marker", "name"),
    [("api", "api"), ("cli\x00worker", "worker"), ("embedded_redis", "broker")],
    ids=["api", "worker", "broker"],
)
def test_a_child_that_dies_is_restarted_and_nothing_else_stops(up, marker: str, name: str) -> None:
    process, url, log = up
    _wait_healthy(process, url, log)
    victim = _child(process.pid, marker)
    others = [pid for pid in child_pids(process.pid) if pid != victim]

    os.killpg(victim, signal.SIGKILL)  # the child and everything in its session

    _wait_for(lambda: f"the {name} exited (-9); restarting it in 1 s" in log.read_text(),
              "the exit was not logged", log)  # fmt: skip
    _wait_for(lambda: f"restarted the {name}" in log.read_text(), "not restarted", log)
    assert process.poll() is None, "nnservice up stopped"
    assert all(alive(pid) for pid in others), "another child was stopped"
    _wait_for(lambda: _healthz(url), "the API did not answer again", log)
    assert _child(process.pid, marker) != victim


def _servers(broker: int) -> list[int]:
    """The valkey-server processes the broker's process runs."""
    return [
        pid
        for pid in child_pids(broker)
        if b"valkey-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def test_the_broker_restarts_when_its_server_dies(up) -> None:
    """valkey-server itself killed: the broker's process notices and exits, and is restarted."""
    process, url, log = up
    _wait_healthy(process, url, log)
    (server,) = _servers(_child(process.pid, "embedded_redis"))

    os.kill(server, signal.SIGKILL)

    _wait_for(lambda: "restarted the broker" in log.read_text(), "broker not restarted", log)
    new_broker = _child(process.pid, "embedded_redis")
    _wait_for(lambda: len(_servers(new_broker)) == 1, "no new valkey-server", log)


def test_sigkill_of_up_leaves_no_process_behind(up) -> None:
    process, url, log = up
    _wait_healthy(process, url, log)
    started = descendant_pids(process.pid)
    assert len(started) >= 4  # broker and its valkey-server, worker, API (and their children)

    os.kill(process.pid, signal.SIGKILL)  # the supervisor alone: no handler, no clean-up
    process.wait()

    deadline = time.monotonic() + 5.0
    while [pid for pid in started if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in started if alive(pid)], "processes outlived nnservice up"


def test_a_second_up_on_the_same_store_refuses(up, tmp_path: Path) -> None:
    process, url, log = up
    _wait_healthy(process, url, log)
    second = subprocess.run(
        [sys.executable, "-m", "nnservice.cli", "up", "--port", str(free_port())],
        env=_up_env(tmp_path / "store"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1
    assert (
        f"the store {tmp_path / 'store'} is in use by another `nnservice up` (pid {process.pid})"
        in second.stderr
    )
    assert process.poll() is None and _healthz(url)


def _healthz(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
