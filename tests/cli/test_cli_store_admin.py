"""`nnservice db upgrade`, the refusal of `api` and `worker` on a database that is behind, and
`nnservice store import` of a file store, as a user runs them (real processes, real files)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from alembic import command

from foundation.settings import Settings
from model_store import ModelStore
from model_store.canonical import canonical_json, hashed_snapshot_json
from model_store.database import make_engine
from model_store.datasets import content_id, dataset_columns
from model_store.schema import alembic_config, current_revision, head_revision


def _clean_env() -> dict[str, str]:
    """This process's environment without any nnservice setting."""
    return {key: value for key, value in os.environ.items() if not key.startswith("NNSERVICE_")}


def nnservice(*args: str, store: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nnservice.cli", *args],
        env={**_clean_env(), "NNSERVICE_STORE": str(store)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_api_and_worker_refuse_a_database_that_is_behind_until_db_upgrade(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    engine = make_engine(Settings(store_path=store).store_database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")  # an older version's schema
    finally:
        engine.dispose()
    for args in (["api", "--port", "1"], ["worker"]):
        refused = nnservice(*args, store=store)
        assert refused.returncode == 2, refused.stderr
        assert "the database is at revision 0001" in refused.stderr
        assert "run `nnservice db upgrade` first" in refused.stderr
    first = nnservice("db", "upgrade", store=store)
    assert first.returncode == 0 and "upgraded from 0001 to revision" in first.stdout
    again = nnservice("db", "upgrade", store=store)
    assert again.returncode == 0 and "up to date" in again.stdout
    opened = ModelStore.from_settings(Settings(store_path=store))
    try:
        opened.require_current_schema()  # what api and worker check at start
    finally:
        opened.close()


def test_api_and_worker_create_the_schema_of_an_empty_database(tmp_path: Path) -> None:
    """As MLflow's server does: an empty database gets the schema, under the upgrade's lock."""
    store = tmp_path / "store"
    store.mkdir()
    url = Settings(store_path=store).store_database_url
    engine = make_engine(url)
    try:
        assert current_revision(engine) is None
        # The worker creates the schema, then runs; it is stopped once it has started.
        worker = subprocess.Popen(
            [sys.executable, "-m", "nnservice.cli", "worker", "--concurrency", "1"],
            env={
                **_clean_env(),
                "NNSERVICE_STORE": str(store),
                "REDIS_URL": "redis://127.0.0.1:1/0",
            },
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            first_line = worker.stderr.readline()
        finally:
            worker.terminate()
            worker.communicate(timeout=60)
        assert f"created the database's schema (revision {head_revision()})" in first_line
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def _old_store(root: Path) -> dict:
    """A store directory in the file format before the database: one dataset, one job and its
    snapshot, promoted."""
    people = {"weight": [133.0, 160.0, 152.0, 120.0], "height": [65.0, 72.0, 70.0, 60.0]}
    columns = dataset_columns(people["weight"], people["height"], [1.0, 0.0, 0.0, 1.0])
    plain = {name: column.tolist() for name, column in columns.items()}
    dataset_id = content_id(columns)
    (root / "datasets").mkdir(parents=True)
    dataset = {
        "id": dataset_id,
        "name": "seed",
        "rows": 4,
        "counts": {"F": 2, "M": 2},
        "created_at": "2026-11-20T10:00:00.000000Z",
        **plain,
    }
    (root / "datasets" / f"{dataset_id}.json").write_bytes(canonical_json(dataset))
    job_id = hashlib.sha256(b"old job").hexdigest()[:32]
    snapshot = {
        "format_version": 1,
        "id": f"m-{job_id}",
        "created_at": "2026-11-20T10:00:05.000000Z",
        "layer_sizes": [2, 2, 1],
        "activation": "sigmoid",
        "loss": "mse",
        "weights": [[[-1.0, -1.0], [1.0, 1.0]], [[3.0, -3.0]]],
        "biases": [[0.0, 0.0], [0.0]],
        "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
        "features": ["weight", "height"],
        "units": {"weight": "lb", "height": "in"},
        "label": {"positive": "F", "negative": "M"},
        "training": {"dataset_id": dataset_id, "job_id": job_id},
    }
    sha256, data = hashed_snapshot_json(snapshot)
    (root / "models").mkdir()
    (root / "models" / f"m-{job_id}.json").write_bytes(data)
    (root / "models" / "PROMOTIONS").write_text(f"m-{job_id}\n")
    (root / "models" / "LATEST").write_text(f"m-{job_id}\n")
    (root / "jobs").mkdir()
    job = {
        "id": job_id,
        "state": "succeeded",
        "dataset_id": dataset_id,
        "hyperparameters": {"epochs": 10},
        "model_id": f"m-{job_id}",
        "created_at": "2026-11-20T10:00:01.000000Z",
        "started_at": "2026-11-20T10:00:02.000000Z",
        "finished_at": "2026-11-20T10:00:05.000000Z",
        "attempts": 1,
    }
    (root / "jobs" / f"{job_id}.json").write_bytes(canonical_json(job))
    return {"dataset_id": dataset_id, "job_id": job_id, "model_id": f"m-{job_id}", "sha": sha256}


def test_store_import_of_a_file_store_through_the_cli_twice(tmp_path: Path) -> None:
    old = _old_store(tmp_path / "old")
    store = tmp_path / "store"
    assert nnservice("db", "upgrade", store=store).returncode == 0

    first = nnservice("store", "import", str(tmp_path / "old"), store=store)
    second = nnservice("store", "import", str(tmp_path / "old"), store=store)

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout.strip().splitlines()[-1]) == {
        "added": {"datasets": 1, "jobs": 1, "models": 1, "promotions": 1},
        "present": {},
        "unreadable": 0,
    }
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout.strip().splitlines()[-1])
    assert report["added"] == {} and report["unreadable"] == 0
    opened = ModelStore.from_settings(Settings(store_path=store))
    try:
        assert opened.models.latest_id() == old["model_id"]
        assert opened.models.snapshot(old["model_id"])["sha256"] == old["sha"]
        job = opened.jobs.get(old["job_id"])
        assert (job.state, job.created_at) == ("succeeded", "2026-11-20T10:00:01.000000Z")
        assert opened.datasets.get(old["dataset_id"]).name == "seed"
        assert len(opened.models.list().items) == 1 and len(opened.models.promotions()) == 1
    finally:
        opened.close()
