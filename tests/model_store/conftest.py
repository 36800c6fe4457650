"""Fixtures for the model store tests: a store on each backend, snapshot and job factories,
blob damage, an empty database, child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import stores

from model_store import ModelStore, tables
from model_store.objects import LocalObjects, S3Objects

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASET_ID = "ds-0123456789abcdef01234567"


@pytest.fixture(scope="session")
def _server_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated PostgreSQL database for this directory's tests, emptied before each."""
    with stores.fresh_locations("postgresql-s3", tmp_path_factory.mktemp("unused")) as located:
        yield located[0]


@pytest.fixture(params=stores.BACKENDS)
def store_locations(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(database URL, object store) of an empty migrated store, on each backend in turn.

    As tests/conftest.py's, but on PostgreSQL the tables of one database are emptied for each
    test instead of a database being created: CREATE DATABASE costs far more than the test.
    The S3 prefix is new for each test, as there.
    """
    if request.param == "sqlite-local":
        with stores.fresh_locations(request.param, tmp_path / "store") as located:
            yield located
        return
    stores.skip_without_servers()
    database_url = request.getfixturevalue("_server_database")
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            kept = (tables.job_durations, tables.counters)
            emptied = [t for t in tables.metadata.sorted_tables if t not in kept]
            names = ", ".join(table.name for table in emptied)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY"))
            # The kept histogram's and counters' rows are made by their migrations: zeroed, not
            # removed.
            connection.execute(tables.job_durations.update().values(jobs=0, seconds=0.0))
            connection.execute(tables.counters.update().values(value=0))
    finally:
        engine.dispose()
    prefix = "t_" + uuid.uuid4().hex[:16]
    yield database_url, f"{os.environ[stores.OBJECTS_VARIABLE].rstrip('/')}/{prefix}"


@pytest.fixture
def store(store_locations: tuple[str, str]) -> Iterator[ModelStore]:
    """An empty store on each backend (SQLite + a directory; PostgreSQL + S3 in CI)."""
    opened = ModelStore(*store_locations)
    yield opened
    opened.close()


@pytest.fixture(params=stores.BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no tables at all (not migrated), on each backend."""
    if request.param == "sqlite-local":
        yield f"sqlite:///{tmp_path}/empty.db"
        return
    stores.skip_without_servers()
    name = "e_" + uuid.uuid4().hex[:16]
    server = sa.make_url(os.environ[stores.DATABASE_VARIABLE])
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def object_key_of(store: ModelStore, table: sa.Table, row_id: str) -> str:
    """The object key the row `row_id` of `table` (datasets or models) names."""
    with store.engine.connect() as connection:
        return connection.execute(
            sa.select(table.c.object_key).where(table.c.id == row_id)
        ).scalar_one()


@pytest.fixture
def overwrite_object() -> Callable[[ModelStore, str, bytes], None]:
    """Replace an object's bytes behind the store's back, as damage would: the file itself in
    a local directory, a plain boto3 PutObject on S3."""

    def overwrite(store: ModelStore, key: str, data: bytes) -> None:
        objects = store.objects
        if isinstance(objects, LocalObjects):
            path = objects.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        else:
            assert isinstance(objects, S3Objects)
            full_key = f"{objects.prefix}/{key}" if objects.prefix else key
            objects.client.put_object(Bucket=objects.bucket, Key=full_key, Body=data)

    return overwrite


@pytest.fixture
def snapshot_key() -> Callable[[ModelStore, str], str]:
    """The object key of a model's snapshot."""
    return lambda store, model_id: object_key_of(store, tables.models, model_id)


@pytest.fixture
def make_snapshot() -> Callable[..., dict]:
    """A valid 2-2-1 snapshot body (what a worker passes to save_snapshot), with overrides."""

    def make(job_id: str | None = None, **overrides: object) -> dict:
        snapshot = {
            "layer_sizes": [2, 2, 1],
            "loss": "mse",
            "weights": [[[0.5, -0.25], [1.5, 0.75]], [[2.0, -1.0]]],
            "biases": [[0.1, -0.2], [0.3]],
            "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
            "training": {
                "dataset_id": DATASET_ID,
                "job_id": job_id,
                "hyperparameters": {"epochs": 10, "learning_rate": 0.1},
                "seed": 0,
                "epochs": 10,
                "loss_history": [0.3, 0.2, 0.1],
                "final_loss": 0.1,
                "train_accuracy": 1.0,
                "validation_accuracy": None,
                "initial_model_id": None,
            },
        }
        snapshot.update(overrides)
        return snapshot

    return make


@pytest.fixture
def new_job() -> Callable[..., dict]:
    """Create a queued job in a store: `new_job(store, "job1", dataset_id=...)`."""

    def create(store: ModelStore, job_id: str = "job1", **fields: object) -> dict:
        record = {"id": job_id, "dataset_id": DATASET_ID, "hyperparameters": {"epochs": 1000}}
        return store.jobs.create({**record, **fields})

    return create


@pytest.fixture
def run_python() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `code` in a fresh Python process (the repo importable); the caller waits for it."""
    started: list[subprocess.Popen] = []

    def run(code: str, *args: str) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.fixture
def run_together(run_python) -> Callable[..., list[str]]:
    """Run `code` in one process per argument list, all released at the same moment.

    `code` does its set-up (imports, opening the store), says it is ready and waits
    (`print("ready", flush=True); sys.stdin.readline()`), then runs the racing step. Returns
    each process's stdout (stripped), after checking that every one exited with 0.
    """

    def run(code: str, argument_lists: list[list[str]]) -> list[str]:
        processes = [run_python(code, *arguments) for arguments in argument_lists]
        for process in processes:
            if process.stdout.readline().strip() != "ready":
                out, err = process.communicate(timeout=60)
                pytest.fail(f"a child process did not get ready: {out}{err}")
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = []
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            outputs.append(out.strip())
        return outputs

    return run
