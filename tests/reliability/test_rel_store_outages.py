"""Outages of the store's database and object store while API processes serve, for real.

Every API process loads the model it serves when it starts, so processes that have answered no
request yet keep answering `/predict` with 200 while PostgreSQL is stopped and while the S3
server (SeaweedFS) is killed, each for `OUTAGE_SECONDS`. A process that starts during an outage
answers 503 naming the unreachable part, and /readyz says not ready naming it, until the part is
back; then it serves without a restart. On the one-machine stack (SQLite + a local directory)
the database is unreachable as a real file is: the API may not open it (mode 000; as root, the
API runs without the capabilities that bypass file permissions).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import backends
import boto3
import pytest
import requests
import sqlalchemy as sa

from foundation.settings import Settings
from model_store import ModelStore
from model_store.objects import S3Objects
from model_store.schema import upgrade
from nnservice.embedded_redis import free_port

from .conftest import EMILY, SNAPSHOT, ApiProcess

pytestmark = [pytest.mark.fault, pytest.mark.timeout(240)]

#: How long each outage lasts.
OUTAGE_SECONDS = 30.0
#: How often each API process is asked for a prediction during an outage.
ROUND_SECONDS = 0.25
#: How long a process may take to serve once the unreachable part is back (a few polls).
RECOVERY_SECONDS = 10.0
BUCKET = "nnservice-outages"
#: What clients are told about each part.
UNREACHABLE = {
    "database": "the store's database is unreachable",
    "object_store": "the object store is unreachable",
}


def _environment(root: Path, **settings: str) -> dict[str, str]:
    """An API's environment: a store directory of its own, no broker, two worker processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNSERVICE_", "AWS_"))}
    return {
        **env,
        "NNSERVICE_STORE": str(root),
        "NNSERVICE_METRICS_DIR": str(root.parent / "metrics"),
        "NNSERVICE_API_WORKERS": "2",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nobody listens: /predict needs none
        "PYTHONUNBUFFERED": "1",
        **settings,
    }


def _predict(api: ApiProcess) -> requests.Response:
    """POST /predict on a fresh connection (so that any of the API's workers may take it)."""
    return requests.post(api.url("/predict"), json=EMILY, timeout=10)


def _predict_statuses_by_worker(api: ApiProcess) -> dict[int, set[int]]:
    """Worker pid -> the statuses it answered POST /predict with, from the API's access log."""
    statuses: dict[int, set[int]] = {}
    for line in api.log_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("logger") == "gunicorn.access" and entry.get("path") == "/predict":
                statuses.setdefault(entry["process"], set()).add(entry["status"])
    return statuses


def _wait_loaded(api: ApiProcess, model_id: str, workers: int = 2, timeout: float = 60.0) -> None:
    """Until each of the API's `workers` processes has logged that it serves `model_id` (its
    load at start): /healthz answered by one says nothing of the other, which may still be
    starting, and an outage that begins meanwhile would rightly leave it with no model."""
    wanted = f"serving model {model_id} as latest"
    deadline = time.monotonic() + timeout
    while True:
        loaded = set()
        for line in api.log_text().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if str(entry.get("message", "")).startswith(wanted):
                    loaded.add(entry["process"])
        if len(loaded) >= workers:
            return
        assert time.monotonic() < deadline, (api.log, loaded)
        time.sleep(0.05)


def _promote_a_model(store: ModelStore) -> str:
    model_id = store.models.save(dict(SNAPSHOT), imported=True)["id"]
    store.models.promote(model_id)
    return model_id


def _assert_unreachable(api: ApiProcess, part: str) -> None:
    """/predict answers 503 naming `part`, and /readyz says the model is not loaded, why."""
    message = UNREACHABLE[part]
    answer = _predict(api)
    assert answer.status_code == 503, answer.text
    assert answer.json()["message"] == f"{message}; try again shortly"
    assert list(answer.json()["errors"]) == [part]
    ready = requests.get(api.url("/readyz"), timeout=10)
    assert ready.status_code == 503, ready.text
    assert message in ready.json()["errors"]["model"][0], ready.text


def _wait_serving(api: ApiProcess, model_id: str, streak: int = 12) -> None:
    """Until /predict answers 200 with `model_id` `streak` times in a row, on fresh connections
    (RECOVERY_SECONDS at most): each of the API's worker processes retries its load at its next
    poll, so one answer from one of them says nothing of the others. Until then every answer is
    503 naming the outage, never "no model yet". /readyz then has no complaint about the model."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    in_a_row = 0
    while in_a_row < streak:
        answer = _predict(api)
        if answer.status_code == 200:
            assert answer.json()["model_id"] == model_id
            in_a_row += 1
            continue
        assert answer.status_code == 503, answer.text  # never "no model yet"
        assert time.monotonic() < deadline, f"not serving again: {answer.text}"
        in_a_row = 0
        time.sleep(0.05)
    assert "model" not in requests.get(api.url("/readyz"), timeout=10).json().get("errors", {})


@contextlib.contextmanager
def _apis() -> Iterator[Callable[..., ApiProcess]]:
    """Start API processes with `start(env, log, ...)`; each is stopped at the end."""
    started: list[ApiProcess] = []

    def start(*args, **kwargs) -> ApiProcess:
        started.append(ApiProcess(*args, **kwargs))
        return started[-1]

    try:
        yield start
    finally:
        for api in started:
            api.stop()


def _bypass_permissions_dropped() -> list[str]:
    """The command prefix that makes file permissions bind a process started by root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root, and setpriv (util-linux) is missing to drop CAP_DAC_*")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


def test_an_api_started_while_its_sqlite_database_is_unreadable_serves_once_it_is_back(
    tmp_path: Path,
) -> None:
    env = _environment(tmp_path / "store")
    settings = Settings.from_env(env)
    upgrade(settings.store_database_url)
    store = ModelStore.from_settings(settings)
    model_id = _promote_a_model(store)
    store.close()
    database = Path(sa.make_url(settings.store_database_url).database)
    database.chmod(0)
    try:
        with _apis() as start:
            wrapper = _bypass_permissions_dropped()
            api = start(env, tmp_path / "api.log", wrapper=wrapper, migrate=False)
            assert "unreachable (unable to open database file); starting anyway" in api.log_text()
            for _ in range(6):  # fresh connections: any of its workers
                _assert_unreachable(api, "database")
            database.chmod(0o644)
            _wait_serving(api, model_id)
            for _ in range(6):
                assert _predict(api).json()["model_id"] == model_id
    finally:
        database.chmod(0o644)


@pytest.fixture
def servers() -> Iterator[tuple[str, backends.SeaweedFS]]:
    """A PostgreSQL and an S3 server of this test's own (it stops and kills them)."""
    if not (backends.PG_BINDIR / "initdb").exists():
        pytest.skip(f"PostgreSQL 15 is missing ({backends.PG_BINDIR})")
    database_url, stop_postgres = backends.start_postgres("outages")
    try:
        s3 = backends.start_seaweedfs_server(BUCKET)
        try:
            yield database_url, s3
        finally:
            s3.stop()
    finally:
        stop_postgres()


def _ride_out(serving: list[ApiProcess], model_id: str, starting: ApiProcess, part: str) -> int:
    """For OUTAGE_SECONDS: every process in `serving` answers /predict 200 with `model_id` on
    each round, and `starting` answers 503 naming `part` (and is not ready). The rounds made."""
    _assert_unreachable(starting, part)
    rounds = 0
    end = time.monotonic() + OUTAGE_SECONDS
    while (now := time.monotonic()) < end:
        for api in serving:
            answer = _predict(api)
            assert answer.status_code == 200, (api.port, answer.text)
            assert answer.json()["model_id"] == model_id
        refused = _predict(starting)
        assert refused.status_code == 503 and list(refused.json()["errors"]) == [part]
        rounds += 1
        time.sleep(max(0.0, now + ROUND_SECONDS - time.monotonic()))
    return rounds


def test_predict_answers_through_a_database_and_an_object_store_outage(
    servers: tuple[str, backends.SeaweedFS], tmp_path: Path
) -> None:
    database_url, s3 = servers
    aws = s3.env
    upgrade(database_url)
    client = boto3.client(
        "s3",
        endpoint_url=aws["AWS_ENDPOINT_URL_S3"],
        aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
        region_name=aws["AWS_DEFAULT_REGION"],
    )
    store = ModelStore(database_url, S3Objects(BUCKET, "outages", client=client))
    model_id = _promote_a_model(store)
    store.close()

    def env(name: str) -> dict[str, str]:
        shared = {"NNSERVICE_DATABASE_URL": database_url, **aws}
        return _environment(
            tmp_path / name, NNSERVICE_OBJECT_STORE=f"s3://{BUCKET}/outages", **shared
        )

    with _apis() as start:
        # Two API processes that answer no prediction before the outages.
        serving = [start(env(name), tmp_path / f"{name}.log") for name in ("a", "b")]
        for api in serving:
            _wait_loaded(api, model_id)

        start_postgres_again = backends.stop_postgres_server(database_url)
        try:
            late = start(env("c"), tmp_path / "c.log", migrate=False)
            needs_database = requests.get(serving[0].url("/jobs"), timeout=10)
            assert needs_database.status_code == 503, needs_database.text
            rounds = _ride_out(serving, model_id, late, "database")
        finally:
            start_postgres_again()
        _wait_serving(late, model_id)
        serving.append(late)

        s3.kill()
        try:
            later = start(env("d"), tmp_path / "d.log")
            unreadable = requests.get(serving[0].url(f"/models/{model_id}"), timeout=10)
            assert unreadable.status_code == 503, unreadable.text
            assert list(unreadable.json()["errors"]) == ["object_store"]
            rounds += _ride_out(serving, model_id, later, "object_store")
        finally:
            s3.restart(BUCKET)
        _wait_serving(later, model_id)
        # Every worker process of the first two answered, only ever 200 (they never answered a
        # prediction before the outages).
        for api in serving[:2]:
            statuses = _predict_statuses_by_worker(api)
            assert statuses == {pid: {200} for pid in api.worker_pids()}, (api.log, statuses)
        listed = requests.get(serving[0].url("/models"), timeout=10).json()
        assert [(m["id"], m["status"]) for m in listed] == [(model_id, "ok")]  # never "corrupt"
        assert requests.get(serving[0].url(f"/models/{model_id}"), timeout=10).status_code == 200
    assert rounds > OUTAGE_SECONDS / ROUND_SECONDS  # asked throughout: a round every 0.5 s
