"""Where a test's store lives: SQLite + a local directory always, PostgreSQL + S3 in CI.

`./scripts/test.sh --with-backends` (what `.ci/run` runs) starts a real PostgreSQL and a real S3
server (SeaweedFS) and names them in NNSERVICE_TEST_DATABASE_URL and NNSERVICE_TEST_OBJECT_STORE
(with the AWS_* variables for S3). Each test gets a database of its own on that server (created,
then dropped) and a key prefix of its own in the bucket. Without the variables, the PostgreSQL + S3
cases are skipped and say why.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from foundation.settings import Settings
from model_store import ModelStore, tables
from model_store.database import sqlite_url_for
from model_store.ids import validate_id
from model_store.objects import LocalObjects
from model_store.schema import upgrade
from model_store.times import now_us

BACKENDS = ("sqlite-local", "postgresql-s3")
DATABASE_VARIABLE = "NNSERVICE_TEST_DATABASE_URL"
OBJECTS_VARIABLE = "NNSERVICE_TEST_OBJECT_STORE"


def server_backend_configured() -> bool:
    return bool(os.environ.get(DATABASE_VARIABLE) and os.environ.get(OBJECTS_VARIABLE))


def skip_without_servers() -> None:
    if not server_backend_configured():
        pytest.skip(
            f"PostgreSQL + S3: {DATABASE_VARIABLE} and {OBJECTS_VARIABLE} are not set "
            "(./scripts/test.sh --with-backends starts both servers and sets them)"
        )


@contextlib.contextmanager
def fresh_locations(backend: str, directory: Path) -> Iterator[tuple[str, str]]:
    """(database URL, object store) of an empty, migrated store for one test."""
    if backend == "sqlite-local":
        database_url = sqlite_url_for(directory)
        upgrade(database_url)
        yield database_url, str(directory / "objects")
        return
    skip_without_servers()
    name = "t_" + uuid.uuid4().hex[:16]
    server = sa.make_url(os.environ[DATABASE_VARIABLE])
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        database_url = server.set(database=name).render_as_string(hide_password=False)
        upgrade(database_url)
        yield database_url, f"{os.environ[OBJECTS_VARIABLE].rstrip('/')}/{name}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def snapshot_object_path(store: ModelStore, model_id: str) -> Path:
    """The file holding a model's snapshot in a local object store (to damage it in a test)."""
    with store.engine.connect() as connection:
        key = connection.execute(
            sa.select(tables.models.c.object_key).where(tables.models.c.id == model_id)
        ).scalar_one()
    return Path(store.objects.root) / key


def mark_job_sent(store: ModelStore, job_id: str) -> None:
    """Note that a job's task was (re-)sent now, as a caller that sends tasks itself would."""
    with store.engine.begin() as connection:
        connection.execute(
            tables.jobs.update()
            .where(tables.jobs.c.id == validate_id(job_id))
            .values(sent_us=now_us())
        )


def object_files(store: ModelStore) -> list[str]:
    """Every file under a local object store, as relative paths (sorted)."""
    root = Path(store.objects.root)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def object_keys(store: ModelStore, prefix: str) -> list[str]:
    """The keys of the objects under `prefix` (e.g. "batch/<id>/"), listed on the backend
    itself (the directory, or the S3 bucket), sorted."""
    objects = store.objects
    if isinstance(objects, LocalObjects):
        root = Path(objects.root)
        return sorted(
            str(path.relative_to(root)) for path in (root / prefix).rglob("*") if path.is_file()
        )
    full = f"{objects.prefix}/{prefix}" if objects.prefix else prefix
    pages = objects.client.get_paginator("list_objects_v2").paginate(
        Bucket=objects.bucket, Prefix=full
    )
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return sorted(key.removeprefix(f"{objects.prefix}/") for key in keys)


def migrated(settings: Settings) -> Settings:
    """`settings` after its database was brought up to date (as `nnservice db upgrade` does)."""
    upgrade(settings.store_database_url)
    return settings
