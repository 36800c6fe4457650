"""The servers the store's tests use in CI honour what the store relies on.

The S3 server must honour conditional writes: datasets and snapshots are written create-only
(`If-None-Match: *`), so an emulator that ignores the header (and lets a second writer replace an
immutable object) fails here. PostgreSQL must answer and hold advisory locks (migrations run under
one). scripts/ci_backends.sh starts both servers and names them in NNSERVICE_TEST_OBJECT_STORE and
NNSERVICE_TEST_DATABASE_URL (with the standard AWS_* variables) under
`./scripts/test.sh --with-backends`, which .ci/run always runs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import create_engine, text

OBJECT_STORE = os.environ.get("NNSERVICE_TEST_OBJECT_STORE", "")
DATABASE_URL = os.environ.get("NNSERVICE_TEST_DATABASE_URL", "")

UNSET = "{} is not set: run ./scripts/test.sh --with-backends (it starts the servers)"
needs_s3 = pytest.mark.skipif(not OBJECT_STORE, reason=UNSET.format("NNSERVICE_TEST_OBJECT_STORE"))
needs_postgres = pytest.mark.skipif(
    not DATABASE_URL, reason=UNSET.format("NNSERVICE_TEST_DATABASE_URL")
)


@pytest.fixture
def s3_key() -> Iterator[tuple[object, str, str]]:
    """(client, bucket, key): a key of its own under the object store's prefix, deleted after."""
    location = urlsplit(OBJECT_STORE)
    assert location.scheme == "s3", f"NNSERVICE_TEST_OBJECT_STORE is not s3://...: {OBJECT_STORE}"
    bucket, prefix = location.netloc, location.path.strip("/")
    key = f"{prefix}/test-s3-server/{uuid.uuid4().hex}".lstrip("/")
    client = boto3.client("s3")  # AWS_ENDPOINT_URL_S3 and the credentials from the environment
    yield client, bucket, key
    client.delete_object(Bucket=bucket, Key=key)


def _refused_with_412(error: pytest.ExceptionInfo[ClientError]) -> bool:
    response = error.value.response
    return (
        response["Error"]["Code"] == "PreconditionFailed"
        and response["ResponseMetadata"]["HTTPStatusCode"] == 412
    )


def _content(client, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


@needs_s3
def test_create_only_put_refuses_an_existing_key(s3_key) -> None:
    client, bucket, key = s3_key
    client.put_object(Bucket=bucket, Key=key, Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=bucket, Key=key, Body=b"second", IfNoneMatch="*")
    assert _refused_with_412(refused), refused.value.response
    assert _content(client, bucket, key) == b"first"


@needs_s3
def test_put_if_match_honours_the_etag(s3_key) -> None:
    client, bucket, key = s3_key
    etag = client.put_object(Bucket=bucket, Key=key, Body=b"first")["ETag"]
    wrong = '"' + "0" * 32 + '"'
    assert etag != wrong
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=bucket, Key=key, Body=b"second", IfMatch=wrong)
    assert _refused_with_412(refused), refused.value.response
    assert _content(client, bucket, key) == b"first"
    # The header is honoured, not just refused: the right ETag lets the write through.
    client.put_object(Bucket=bucket, Key=key, Body=b"third", IfMatch=etag)
    assert _content(client, bucket, key) == b"third"


@needs_postgres
def test_postgres_answers_and_holds_advisory_locks() -> None:
    engine = create_engine(DATABASE_URL)
    try:
        with engine.connect() as holder, engine.connect() as other:
            assert "PostgreSQL" in holder.execute(text("SELECT version()")).scalar_one()
            holder.execute(text("SELECT pg_advisory_lock(1101)"))
            taken = text("SELECT pg_try_advisory_lock(1101)")
            assert other.execute(taken).scalar_one() is False
            holder.execute(text("SELECT pg_advisory_unlock(1101)"))
            assert other.execute(taken).scalar_one() is True
            other.execute(text("SELECT pg_advisory_unlock(1101)"))
    finally:
        engine.dispose()
