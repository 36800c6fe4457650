"""`nnservice up` for real: with no REDIS_URL it starts a broker, a worker and the API and stops
all of them cleanly on SIGTERM or SIGINT; a child that dies is restarted and nothing else stops;
the embedded broker's disk running full loses no job and stops no prediction; SIGKILL of
`nnservice up` leaves no process behind; a second one on the same store refuses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import requests
from stack import alive, child_pids, descendant_pids  # tests/stack.py, loaded by tests/conftest.py

from nnservice.embedded_redis import free_port
from nnservice.supervisor import LOCK_FILE, StoreInUse, lock_store, unlock_store

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)


def _up_env(store: Path) -> dict[str, str]:
    """A user's environment for `nnservice up` on `store`: no NNSERVICE_ settings but the store,
    and a temporary directory of the test's own (TMPDIR), beside the store."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NNSERVICE_")}
    env.pop("REDIS_URL", None)
    temp = store.parent / "tmp"
    temp.mkdir(exist_ok=True)
    env.update(
        TMPDIR=str(temp),
        NNSERVICE_STORE=str(store),
        NNSERVICE_WORKER_CONCURRENCY="1",
        NNSERVICE_API_WORKERS="1",
        NUMBA_CACHE_DIR=str(REPO_ROOT / ".numba_cache"),
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def _running_up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """`nnservice up` on a free port with no REDIS_URL, its store in tmp_path/store; yields
    (process, url, log path) and kills whatever is left of it afterwards."""
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
        if process.poll() is None:  # a clean stop first, so that it cleans up after itself
            process.terminate()
            with suppress(subprocess.TimeoutExpired):
                process.wait(90)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for pid in leftovers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def up(tmp_path: Path):
    """Start `nnservice up` on a free port with no REDIS_URL; yields (process, url, log path)."""
    with _running_up(tmp_path) as running:
        yield running


def _wait_healthy(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine
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
    assert f"export NNSERVICE_URL={url}" in text.splitlines()[:3]  # first: the line to paste
    assert f"API listening on {url}" in text
    assert "nnservice: stopped" in text
    # Nothing left behind: no lock file in the store, no metrics directory in the temp directory.
    assert not (log.parent / "store" / LOCK_FILE).exists()
    assert not (log.parent / "tmp" / "nnservice-metrics").exists()


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


def test_the_store_lock_refuses_a_second_holder_and_goes_on_unlock(tmp_path: Path) -> None:
    store = tmp_path / "store"
    held = lock_store(store)
    assert (store / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    with pytest.raises(StoreInUse, match=f"pid {os.getpid()}"):
        lock_store(store)  # another open file of the same path: flock refuses it

    unlock_store(held, store)

    assert not (store / LOCK_FILE).exists()
    again = lock_store(store)
    with pytest.raises(StoreInUse):
        lock_store(store)
    unlock_store(again, store)


def _healthz(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


#: The embedded broker's disk: room for its start and a few dozen queued tasks, then full.
BROKER_DISK = "48k"
#: The walkthrough's four people, and its job cut to 50 epochs: quick, but real training.
WALKTHROUGH = json.loads((REPO_ROOT / "docs/seed_walkthrough.json").read_text())
QUICK = {**WALKTHROUGH["train"]["hyperparameters"], "epochs": 50}


@pytest.fixture
def up_on_a_small_broker_disk(tmp_path: Path):
    """`nnservice up` whose embedded broker keeps its data on a real 48 KiB filesystem (tmpfs;
    mounting needs root, as here and in CI); yields (process, url, log, mount point)."""
    mount_point = tmp_path / "store" / "valkey"
    mount_point.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={BROKER_DISK}", "tmpfs", str(mount_point)],
        check=True,
    )
    try:
        with _running_up(tmp_path) as (process, url, log):
            yield process, url, log, mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


@pytest.mark.fault
@pytest.mark.timeout(300)
def test_a_full_broker_disk_loses_no_job_and_stops_no_prediction(up_on_a_small_broker_disk) -> None:
    """Valkey cannot append to its file: POST /train answers 503 naming the broker (no job is
    created), /predict and /healthz keep answering, the worker and broker exit and are restarted
    by `nnservice up`; once the disk has room, every accepted job succeeds, and so do new ones."""
    process, url, log, mount_point = up_on_a_small_broker_disk
    _wait_healthy(process, url, log)
    api = _child(process.pid, "api")
    session = requests.Session()
    dataset = session.post(f"{url}/datasets", json=WALKTHROUGH["upload"], timeout=30)
    assert dataset.status_code == 201, dataset.text
    dataset_id = dataset.json()["id"]

    def train() -> requests.Response:
        body = {"dataset_id": dataset_id, "hyperparameters": QUICK}
        return session.post(f"{url}/train", json=body, timeout=30)

    first = train().json()["job_id"]
    _wait_for(lambda: _state(session, url, first) == "succeeded", "no first model", log)

    accepted, refused = [first], None
    for _ in range(200):
        answer = train()
        prediction = session.post(f"{url}/predict", json={"weight": 128, "height": 63}, timeout=10)
        assert prediction.status_code == 200, prediction.text
        if answer.status_code == 202:
            accepted.append(answer.json()["job_id"])
            continue
        refused = answer
        break
    assert refused is not None, "the broker's disk never filled"
    assert refused.status_code == 503, refused.text
    assert "No space left on device" in refused.json()["errors"]["broker"][0]

    _wait_for(lambda: "the worker exited" in log.read_text(), "the worker never noticed", log)
    for _ in range(10):  # while the broker cannot write: predictions go on, from the same API
        assert session.post(f"{url}/predict", json={"weight": 128, "height": 63}, timeout=10).ok
        assert _healthz(url)
        time.sleep(0.3)
    assert process.poll() is None and _child(process.pid, "api") == api

    subprocess.run(["mount", "-o", "remount,size=16m", str(mount_point)], check=True)

    def all_succeeded() -> bool:
        return all(_state(session, url, job) == "succeeded" for job in accepted)

    _wait_for(all_succeeded, "an accepted job did not succeed", log, timeout=180)
    after = train()
    assert after.status_code == 202, after.text
    _wait_for(lambda: _state(session, url, after.json()["job_id"]) == "succeeded",
              "a job sent after the disk had room did not succeed", log, timeout=60)  # fmt: skip
    assert _child(process.pid, "api") == api, "the API was restarted"


def _state(session: requests.Session, url: str, job_id: str) -> str:
    return session.get(f"{url}/jobs/{job_id}", timeout=10).json()["state"]
