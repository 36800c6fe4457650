"""Store faults for real (issue 4, item 3): broken snapshot files, and writes that fail.

Snapshot files are broken on disk behind the API's back (truncated, not JSON, valid JSON whose
sha256 no longer matches); the API, a real gunicorn process, must never serve them. The failing
write is a full disk (a tiny tmpfs under the object store) too small for the snapshot a job has
to write: the job must fail saying so, leaving no partial object and the served model as it was.
A full disk under the database (the same tiny tmpfs, filled, under SQLite; a tmpfs under a
PostgreSQL tablespace) is a 507 naming it.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from stores import DATABASE_VARIABLE

from .conftest import EMILY, SEED_ROWS, SNAPSHOT

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-25])


def _not_json(path: Path) -> None:
    path.write_bytes(b"\x00\x01 this is not JSON")


def _tamper(path: Path) -> None:
    """Valid JSON, a changed weight, the old sha256: only the checksum can tell."""
    snapshot = json.loads(path.read_bytes())
    snapshot["weights"][1][0][0] = -snapshot["weights"][1][0][0]
    path.write_text(json.dumps(snapshot))


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (_truncate, "not valid JSON"),
    "not JSON": (_not_json, "not valid JSON"),
    "sha256 mismatch": (_tamper, "sha256 does not match"),
}


def test_corrupt_snapshots_are_never_served(api_process, tmp_path: Path) -> None:
    """One API worker process, so "the model it served last" is one thing to check against."""
    api = api_process(
        "api-store-faults.log", NNSERVICE_STORE=str(tmp_path), NNSERVICE_API_WORKERS="1"
    )
    http = requests.Session()

    def imported(**changes: object) -> str:
        response = http.post(api.url("/models"), json={**SNAPSHOT, **changes})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def predicted(**body: object) -> requests.Response:
        return http.post(api.url("/predict"), json={**EMILY, **body})

    def listed(model_id: str) -> dict:
        """The model's entry in GET /models (read from the database: loads nothing)."""
        return {entry["id"]: entry for entry in http.get(api.url("/models")).json()}[model_id]

    def predicted_until(
        accept: Callable[[requests.Response], bool], timeout: float = 10.0
    ) -> requests.Response:
        """POST /predict until `accept(answer)`; that answer."""
        deadline = time.monotonic() + timeout
        while True:
            answer = predicted()
            if accept(answer):
                return answer
            assert time.monotonic() < deadline, f"still not so after {timeout} s: {answer.text}"
            time.sleep(0.05)

    good = imported()
    assert http.post(api.url(f"/models/{good}/promote")).status_code == 200
    assert predicted().json()["model_id"] == good

    for name, (corrupt, reason) in CORRUPTIONS.items():
        bad = imported(loss="log_loss")
        assert http.post(api.url(f"/models/{bad}/promote")).status_code == 200
        (snapshot,) = (tmp_path / "objects" / "models" / bad).glob("*.json")
        corrupt(snapshot)
        # Until the API's next look at the promotions: it finds LATEST naming the corrupt file,
        # fails to load it (the listing records that) and the last good model answers.
        served = predicted_until(lambda _, bad=bad: listed(bad)["status"] == "corrupt")
        assert served.status_code == 200, (name, served.text)
        assert served.json()["model_id"] == good, name
        for response in (
            predicted(model_id=bad),
            http.get(api.url(f"/models/{bad}")),
            http.get(api.url("/models/latest")),
            http.post(api.url(f"/models/{bad}/promote")),
        ):
            assert response.status_code == 409, (name, response.text)
            assert bad in response.json()["message"] and reason in response.json()["message"]
            assert list(response.json()["errors"]) == ["model_id"]
        listing = {entry["id"]: entry for entry in http.get(api.url("/models")).json()}
        assert listing[bad]["status"] == "corrupt" and reason in listing[bad]["error"], name
        assert listing[bad]["is_latest"] and listing[good]["status"] == "ok", name

    fixed = imported(loss="mse", biases=[[0.5, 0.5], [0.0]])
    assert http.post(api.url(f"/models/{fixed}/promote")).status_code == 200
    predicted_until(lambda answer: answer.json()["model_id"] == fixed)


#: The object store's disk: room for datasets and small snapshots, not for a 400 kB one.
DISK_BYTES = 256 * 1024
#: The SQLite database's disk: an empty migrated store (about 150 kB) and, once the filler is
#: gone, a write's pages in the write-ahead log.
DATABASE_DISK_BYTES = 1024 * 1024


@contextmanager
def _tmpfs(mount_point: Path, size: int) -> Iterator[Path]:
    """A real, tiny filesystem (tmpfs; mounting needs root, as here and in CI)."""
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB disk for the object store."""
    with _tmpfs(tmp_path / "small-disk", DISK_BYTES) as mount_point:
        yield mount_point


@pytest.fixture
def database_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB disk for a SQLite database."""
    with _tmpfs(tmp_path / "database-disk", DATABASE_DISK_BYTES) as mount_point:
        yield mount_point


def test_a_snapshot_that_cannot_be_written_fails_the_job_cleanly(
    stack_factory, small_disk: Path
) -> None:
    """A full disk under the object store: the job fails saying so, nothing partial is left,
    the served model stays; once there is room again, jobs succeed."""
    private = stack_factory(
        NNSERVICE_WORKER_CONCURRENCY="1",
        NNSERVICE_CHECKPOINT_SECONDS="3600",
        NNSERVICE_CHECKPOINT_EPOCHS="0",  # no checkpoints: only the snapshot meets the full disk
        NNSERVICE_OBJECT_STORE=str(small_disk),
    )
    try:
        small = {"rows": SEED_ROWS, "hyperparameters": {"epochs": 50, "seed": 1}}
        first = private.wait_for_job(private.post("/train", json=small).json()["job_id"])
        assert first["state"] == "succeeded", first
        good = first["model_id"]
        assert private.store.models.latest_id() == good
        before = sorted(str(p.relative_to(small_disk)) for p in small_disk.rglob("*"))

        # 20,000 epochs: the snapshot keeps every epoch's loss (~400 kB): more than the disk.
        big = {"rows": SEED_ROWS, "hyperparameters": {"epochs": 20_000, "seed": 2}}
        job = private.wait_for_job(private.post("/train", json=big).json()["job_id"], timeout=90)

        assert job["state"] == "failed", job
        assert job["error"].startswith("saving the model failed: cannot write"), job["error"]
        assert "No space left on device" in job["error"]
        assert job["model_id"] is None
        after = sorted(str(p.relative_to(small_disk)) for p in small_disk.rglob("*"))
        assert [p for p in after if p not in before] == [f"models/m-{job['id']}"]  # empty dir
        assert not any((small_disk / "models" / f"m-{job['id']}").iterdir())
        assert private.store.models.latest_id() == good
        assert private.post("/predict", json=EMILY).json()["model_id"] == good
        assert private.store.checkpoints.load(job["id"]) is None
        assert [m["id"] for m in private.get("/models").json()] == [good]

        again = private.wait_for_job(private.post("/train", json=small).json()["job_id"])
        assert again["state"] == "succeeded", again  # the store is fine; only that write failed
    finally:
        private.close()


def _fill(disk: Path) -> Path:
    """Write zeros into a file on `disk` until the disk is full (ENOSPC); the file."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        while True:
            os.write(descriptor, bytes(4096))
    except OSError as error:
        assert error.errno == errno.ENOSPC, error
    finally:
        os.close(descriptor)
    return filler


def _full_database_is_507(api, disk: Path, driver_says: str) -> None:
    """Fill `disk`, under the database of `api` (one worker process, an empty store): a write
    answers 507 naming the database and its disk (not "unreachable"), reads keep answering;
    with room again, writes work."""
    with requests.Session() as http:  # closed after: the API's stop need not wait for it
        _writes_on_a_full_disk(api, http, disk, driver_says)


def _writes_on_a_full_disk(api, http: requests.Session, disk: Path, driver_says: str) -> None:
    filler = _fill(disk)

    refused = http.post(api.url("/models"), json=SNAPSHOT)
    assert refused.status_code == 507, refused.text
    message = refused.json()["message"]
    assert message.startswith("the store's database cannot write: the disk under it is full")
    assert driver_says in message and "unreachable" not in message
    assert list(refused.json()["errors"]) == ["database"]
    assert http.get(api.url("/models")).json() == []  # reads answer; nothing half-written
    assert driver_says in api.log_text()

    filler.unlink()
    imported = http.post(api.url("/models"), json=SNAPSHOT)
    assert imported.status_code == 201, imported.text
    promoted = http.post(api.url(f"/models/{imported.json()['id']}/promote"))
    assert promoted.status_code == 200, promoted.text


def test_a_full_disk_under_the_database_is_507_naming_the_disk(
    api_process, database_disk: Path, tmp_path: Path
) -> None:
    """SQLite on a tiny tmpfs, filled to the last byte."""
    api = api_process(
        "api-full-database.log",
        NNSERVICE_STORE=str(tmp_path / "store"),  # the objects: on another disk
        NNSERVICE_DATABASE_URL=f"sqlite:///{database_disk}/nnservice.db",
        NNSERVICE_API_WORKERS="1",
    )
    _full_database_is_507(api, database_disk, "database or disk is full")


#: The PostgreSQL tablespace's disk: room for the store's empty tables (about 180 kB).
POSTGRES_DISK = "2m"


@pytest.fixture
def postgres_on_small_disk() -> Iterator[tuple[str, Path]]:
    """(URL, disk) of a database on the test PostgreSQL whose tables live on a real 2 MiB
    filesystem: a tmpfs mounted as root beside the server's data directory, owned by the
    server's user, made a tablespace and the database's default one. Dropped and unmounted
    after the test."""
    server = os.environ.get(DATABASE_VARIABLE)
    if not server:
        pytest.skip(
            f"PostgreSQL: {DATABASE_VARIABLE} is not set (./scripts/test.sh --with-backends)"
        )
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs under PostgreSQL needs root")
    admin = sa.create_engine(sa.make_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            data = Path(connection.execute(sa.text("SHOW data_directory")).scalar_one())
        if not data.is_dir():
            pytest.skip(f"the PostgreSQL server is not on this machine (no {data} here)")
        disk = Path(tempfile.mkdtemp(prefix="nnservice-small-disk-", dir=data.parent))
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={POSTGRES_DISK}", "tmpfs", str(disk)],
            capture_output=True,
            text=True,
        )
        if mounted.returncode != 0:
            disk.rmdir()
            pytest.skip(f"a tmpfs cannot be mounted here: {mounted.stderr.strip()}")
        try:
            os.chown(disk, data.stat().st_uid, data.stat().st_gid)
            name = "t_" + uuid.uuid4().hex[:16]
            try:
                with admin.connect() as connection:
                    connection.execute(sa.text(f"CREATE TABLESPACE {name} LOCATION '{disk}'"))
                    connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
                    connection.execute(
                        sa.text(f'ALTER DATABASE "{name}" SET default_tablespace = {name}')
                    )
                yield sa.make_url(server).set(database=name).render_as_string(False), disk
            finally:
                with admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    connection.execute(sa.text(f"DROP TABLESPACE IF EXISTS {name}"))
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=True)
            disk.rmdir()
    finally:
        admin.dispose()


def test_a_full_disk_under_postgresql_is_507_naming_the_disk(
    postgres_on_small_disk: tuple[str, Path], api_process, tmp_path: Path
) -> None:
    """PostgreSQL whose tables are on a tiny tmpfs, filled to the last byte: its disk_full
    (SQLSTATE 53100) is a 507 as SQLite's is. (The database is set up before the API, so that
    the API stops before the database is dropped.)"""
    database_url, disk = postgres_on_small_disk
    api = api_process(
        "api-full-postgres.log",
        NNSERVICE_STORE=str(tmp_path / "store"),  # the objects: on another disk
        NNSERVICE_DATABASE_URL=database_url,
        NNSERVICE_API_WORKERS="1",
    )
    _full_database_is_507(api, disk, "No space left on device")
