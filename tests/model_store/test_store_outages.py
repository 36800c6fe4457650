"""Which store failures are outages (worth waiting out) and which are not, on real failures:
a database server that does not answer, an S3 endpoint that does not, a read-only mount, a full
disk under the object store and under SQLite, a file where a directory must go."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.config
import pytest
import sqlalchemy as sa

from model_store import NotFound, StoreError
from model_store.database import make_engine
from model_store.objects import LocalObjects, S3Objects
from model_store.outages import is_full_disk, is_outage


def _closed_port() -> int:
    """A local TCP port that nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _raised(call) -> BaseException:  # noqa: ANN001 - any callable
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the failure is what the test looks at
        return error
    raise AssertionError("expected a failure")


def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")


@contextlib.contextmanager
def _mounted(directory: Path, *options: str) -> Iterator[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", *options, str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def test_a_database_server_that_does_not_answer_is_an_outage() -> None:
    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/nowhere")
    try:
        error = _raised(lambda: engine.connect().close())
    finally:
        engine.dispose()
    assert isinstance(error, sa.exc.OperationalError)
    assert is_outage(error) and not is_full_disk(error)


def test_an_s3_endpoint_that_does_not_answer_is_an_outage() -> None:
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{_closed_port()}",
        aws_access_key_id="nobody",
        aws_secret_access_key="nothing",
        region_name="us-east-1",
        config=botocore.config.Config(connect_timeout=1, retries={"max_attempts": 1}),
    )
    objects = S3Objects("bucket", "prefix", client=client)
    for call in (lambda: objects.put("a/b.json", b"{}"), lambda: objects.get("a/b.json")):
        error = _raised(call)
        assert isinstance(error, StoreError) and "Could not connect" in str(error)
        assert is_outage(error)


def test_what_waiting_does_not_mend_is_not_an_outage(tmp_path: Path) -> None:
    objects = LocalObjects(tmp_path / "objects")
    missing = _raised(lambda: objects.get("models/absent.json"))
    assert isinstance(missing, NotFound) and not is_outage(missing)
    objects.root.mkdir()
    (objects.root / "models").write_text("a file where a directory must go")
    in_the_way = _raised(lambda: objects.put("models/m-1/x.json", b"{}"))
    assert isinstance(in_the_way, StoreError) and not is_outage(in_the_way)
    assert not is_outage(ValueError("not a number"))


def test_a_read_only_object_store_is_an_outage(tmp_path: Path) -> None:
    _needs_root()
    root = tmp_path / "objects"
    with _mounted(root, "--bind", str(root)):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(root)], check=True)
        error = _raised(lambda: LocalObjects(root).put("checkpoints/j.json", b"{}"))
    assert "Read-only file system" in str(error)
    assert is_outage(error) and not is_full_disk(error)


def test_a_full_disk_is_not_an_outage(tmp_path: Path) -> None:
    """Under the object store and under SQLite: the write fails at once, saying so."""
    _needs_root()
    with _mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=64k", "tmpfs") as disk:
        big = _raised(lambda: LocalObjects(disk / "objects").put("models/big.json", b"x" * 10**6))
        assert "No space left on device" in str(big)
        assert is_full_disk(big) and not is_outage(big)

        engine = sa.create_engine(f"sqlite:///{disk}/full.db")
        try:
            with engine.begin() as connection:
                connection.execute(sa.text("CREATE TABLE blobs (data BLOB)"))

            def fill() -> None:
                for _ in range(100):
                    with engine.begin() as connection:
                        connection.execute(
                            sa.text("INSERT INTO blobs VALUES (:data)"), {"data": b"x" * 8192}
                        )

            full = _raised(fill)
        finally:
            engine.dispose()
    assert isinstance(full, sa.exc.OperationalError) and "full" in str(full)
    assert is_full_disk(full) and not is_outage(full)
