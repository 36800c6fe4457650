"""Processes and helpers the service benchmarks share: a real stack on loopback, stopped at the end.

`Stack` runs the same commands as production: an embedded `valkey-server` (no persistence), the
API through `nnservice api` (gunicorn with the production settings) and workers through
`nnservice worker`, each as its own process on 127.0.0.1 and a free port, its output in a log
file under the stack's temporary directory. Leaving the `with` block stops every one of them.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

import psutil
import requests
from celery import Celery

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the packages import without `pip install -e .` too

import celery_ping  # noqa: E402
import seed  # noqa: E402

from foundation.settings import Settings  # noqa: E402
from model_store import ModelStore  # noqa: E402
from model_store.schema import upgrade  # noqa: E402
from nnservice.embedded_redis import EmbeddedRedis, free_port  # noqa: E402
from nnservice.supervisor import stop_process  # noqa: E402
from worker.celery_config import make_celery  # noqa: E402

HOST = "127.0.0.1"


class Stack:
    """A broker plus API and worker processes sharing one store (a context manager)."""

    def __init__(self, name: str = "bench", **env: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"nnservice-{name}-")
        self.root = Path(self._tmp.name)
        self.store_path = self.root / "store"
        self.extra_env = env
        self.broker = EmbeddedRedis(self.root / "valkey", appendonly=False)
        upgrade(self.settings.store_database_url)  # as `nnservice db upgrade` would
        self.store = ModelStore.from_settings(self.settings)
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> Stack:
        self.broker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        """The environment every nnservice process of this stack gets."""
        return {
            **os.environ,
            "REDIS_URL": self.broker.url,
            "NNSERVICE_STORE": str(self.store_path),
            "NNSERVICE_LOG_LEVEL": "WARNING",
            **self.extra_env,
        }

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    def spawn(self, args: Sequence[str], log_name: str, **env: str) -> subprocess.Popen:
        """Start `args` (extra `env` on top of the stack's) in its own session, output to a log."""
        with open(self.root / f"{log_name}.log", "ab") as log:
            process = subprocess.Popen(
                list(args),
                env={**self.env, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start_api(self) -> str:
        """`nnservice api` on a free port; returns its base URL once /healthz answers."""
        port = free_port(HOST)
        process = self.spawn(nnservice("api", "--host", HOST, "--port", str(port)), f"api-{port}")
        return wait_http(f"http://{HOST}:{port}", process)

    def start_worker(self, concurrency: int | None = None, **env: str) -> subprocess.Popen:
        """`nnservice worker` (default concurrency unless given), once it answers a ping."""
        args = ["worker"] + ([f"--concurrency={concurrency}"] if concurrency else [])
        process = self.spawn(nnservice(*args), f"worker-{len(self.processes)}", **env)
        wait_for_ping(self.settings, process)
        return process

    def start_bare_celery(self, concurrency: int) -> tuple[Celery, subprocess.Popen]:
        """The bench-only Celery worker (bench/celery_ping.py) on Redis database 1 of the broker.

        Returns a client app (send `bench.ping` / `bench.train_seed`, wait for results) and the
        worker process, once the worker answers a ping.
        """
        url = self.broker.url.rsplit("/", 1)[0] + "/1"
        script = Path(__file__).with_name("celery_ping.py")
        command = [sys.executable, str(script), url, f"--concurrency={concurrency}"]
        process = self.spawn(command, "bare-celery")
        app = celery_ping.make_app(url)
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bench Celery worker did not start")
        return app, process

    def stop_process(self, process: subprocess.Popen) -> None:
        """SIGTERM one process (SIGKILL for its group after 30 s) and forget it."""
        stop_process(process, timeout=30)
        self.processes.remove(process)

    def stop(self) -> None:
        """Stop every process this stack started, then the broker, then delete the directory."""
        for process in list(self.processes):
            self.stop_process(process)
        self.broker.stop()
        self.store.close()
        self._tmp.cleanup()

    def promote_seed_model(self) -> str:
        """Train the walkthrough's network here (no worker needed), save and promote it; its id."""
        network, standardizer, _ = seed.train_seed_network(seed.HYPERPARAMETERS["epochs"])
        snapshot = self.store.models.save(
            {
                **network.to_dict(),
                "activation": "sigmoid",
                "loss": "mse",
                "normalization": standardizer.to_dict(),
                "training": {},
            }
        )
        self.store.models.promote(snapshot["id"])
        return snapshot["id"]


def nnservice(*args: str) -> list[str]:
    """The command line of `nnservice <args>` with this interpreter."""
    return [sys.executable, "-m", "nnservice.cli", *args]


def wait_http(base_url: str, process: subprocess.Popen, timeout: float = 60.0) -> str:
    """Wait until base_url/healthz answers 200; raises if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {base_url} exited with {process.returncode}")
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return base_url
        except requests.RequestException:  # not listening yet, or still booting its workers
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base_url} did not come up within {timeout} s")


def wait_for_ping(settings: Settings, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until a Celery worker on the settings' broker answers a control ping."""
    app = make_celery(settings)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the worker exited with {process.returncode}")
            if app.control.ping(timeout=0.5):
                return
        raise RuntimeError("the worker did not answer a ping")
    finally:
        app.close()


def upload_seed_dataset(session: requests.Session, base_url: str) -> str:
    """POST the walkthrough's four people as a dataset; returns its id."""
    response = session.post(f"{base_url}/datasets", json=seed.UPLOAD)
    response.raise_for_status()
    return response.json()["id"]


def seed_job(dataset_id: str, **hp: object) -> dict:
    """POST /train body: the walkthrough's job on `dataset_id`, hyperparameters `hp` overridden."""
    return {"dataset_id": dataset_id, "hyperparameters": {**seed.HYPERPARAMETERS, **hp}}


def submit_job(session: requests.Session, base_url: str, dataset_id: str, **hp: object) -> str:
    """POST /train of the walkthrough's job (hyperparameters `hp` overridden); the job id."""
    response = session.post(f"{base_url}/train", json=seed_job(dataset_id, **hp), timeout=60)
    response.raise_for_status()
    return response.json()["job_id"]


def wait_job(
    session: requests.Session, base_url: str, job_id: str, poll: float = 0.002, timeout=120.0
) -> dict:
    """Poll GET /jobs/{id} every `poll` seconds until the job is final; returns the record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = session.get(f"{base_url}/jobs/{job_id}").json()
        if record["state"] in ("succeeded", "failed", "cancelled"):
            if record["state"] != "succeeded":
                raise RuntimeError(f"job {job_id} ended {record['state']}: {record['error']}")
            return record
        time.sleep(poll)
    raise TimeoutError(f"job {job_id} did not finish within {timeout} s")


def iso_seconds(timestamp: str) -> float:
    """Seconds since the epoch of an ISO 8601 UTC timestamp as the store writes them."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def process_tree(pid: int) -> list[psutil.Process]:
    """The process `pid` and all its descendants (gunicorn master and workers, Celery pool)."""
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by `pid` and its live descendants."""
    total = 0.0
    for process in process_tree(pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub markdown table (floats printed with 3 significant digits or as integers)."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """One line: the date, CPU count and model, Python, the commit (dirty: uncommitted edits)."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    today = datetime.now().strftime("%Y-%m-%d")
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return (
        f"{today}, {os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"commit {commit}"
    )


def verdict(met: bool, text: str) -> str:
    return f"{'met' if met else 'NOT MET'}: {text}"
