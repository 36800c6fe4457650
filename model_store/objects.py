"""The object store: immutable blobs (datasets, snapshots) and replaceable ones (checkpoints).

Two backends with one interface, chosen by `open_objects(location)`:

- `LocalObjects`: a directory (the default, `<NNSERVICE_STORE>/objects`); every write is a
  temporary file renamed or hard-linked into place (`model_store.atomic`), so a reader never sees
  half an object.
- `S3Objects`: `s3://bucket/prefix` through boto3, configured by the standard AWS variables
  (`AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`, ...). A create-only write is a conditional
  `PutObject` with `If-None-Match: *`: the server refuses (412) if the key exists, so of two
  writers exactly one creates the object. S3 never shows a partial object.

Keys are `/`-separated paths of store ids and fixed names; they never come from a client.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from model_store.atomic import create_exclusive, remove, write_atomic
from model_store.errors import NotFound, ObjectStoreUnreachable, StoreError, StoreWriteError

#: Bytes per piece of `ObjectStore.stream`.
STREAM_PIECE_BYTES = 256 * 1024


class ObjectStore(Protocol):
    """Where the store keeps its blobs."""

    def create(self, key: str, data: bytes) -> bool:
        """Write `data` under `key` only if no object has that key; False if one does."""

    def put(self, key: str, data: bytes) -> None:
        """Write `data` under `key`, replacing any object there (atomically)."""

    def get(self, key: str) -> bytes:
        """The object's bytes; NotFound if there is none, ObjectStoreUnreachable if the store
        does not answer, StoreError if it cannot be read."""

    def stream(self, key: str, piece_bytes: int = STREAM_PIECE_BYTES) -> Iterator[bytes]:
        """The object's bytes in pieces of at most `piece_bytes`, never all at once; errors
        as `get` (raised by the first `next`)."""

    def exists(self, key: str) -> bool:
        """Whether an object has `key`, without reading it; ObjectStoreUnreachable if the store
        does not answer, StoreError if it cannot tell."""

    def delete(self, key: str) -> None:
        """Remove the object if it exists."""

    def remove_empty_folder(self, prefix: str) -> None:
        """Remove the folder `prefix` (e.g. "batch/<id>") if nothing is in it: a directory of
        a local store; nothing on S3, which has no folders."""

    def check_writable(self) -> None:
        """Raise StoreWriteError unless an object can be written and removed."""


PROBE_KEY = "probes/writable"


class LocalObjects:
    """Objects as files under `root` (key "a/b.json" is `root/a/b.json`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalObjects({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = self.root / key
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreWriteError(f"cannot create {path.parent}: {error.strerror}") from error
        return path

    def create(self, key: str, data: bytes) -> bool:
        return create_exclusive(self._path(key), data)

    def put(self, key: str, data: bytes) -> None:
        write_atomic(self._path(key), data)

    def get(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            raise NotFound("object", key) from None
        except OSError as error:
            raise StoreError(f"cannot read object {key}: {error.strerror}") from None

    def stream(self, key: str, piece_bytes: int = STREAM_PIECE_BYTES) -> Iterator[bytes]:
        try:
            file = open(self.root / key, "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise NotFound("object", key) from None
        except OSError as error:
            raise StoreError(f"cannot read object {key}: {error.strerror}") from None
        with file:
            while piece := file.read(piece_bytes):
                yield piece

    def exists(self, key: str) -> bool:
        try:
            return (self.root / key).is_file()
        except OSError as error:
            raise StoreError(f"cannot look up object {key}: {error.strerror}") from None

    def delete(self, key: str) -> None:
        remove(self.root / key)

    def remove_empty_folder(self, prefix: str) -> None:
        with contextlib.suppress(OSError):  # absent, or written to meanwhile: left as it is
            (self.root / prefix).rmdir()

    def check_writable(self) -> None:
        self.put(PROBE_KEY, b"ok\n")
        self.delete(PROBE_KEY)


class S3Objects:
    """Objects in an S3 bucket under a key prefix, through boto3."""

    def __init__(self, bucket: str, prefix: str = "", client: object | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or boto3.client(
            "s3",
            config=Config(
                connect_timeout=3,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": "path"},
            ),
        )

    def __repr__(self) -> str:
        return f"S3Objects('s3://{self.bucket}/{self.prefix}')"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def create(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*"
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "PreconditionFailed" or status == 412:
                return False
            raise StoreWriteError(f"cannot write object {key}: {error}") from error
        except BotoCoreError as error:
            raise StoreWriteError(f"cannot write object {key}: {error}") from error
        return True

    def put(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (BotoCoreError, ClientError) as error:
            raise StoreWriteError(f"cannot write object {key}: {error}") from error

    def get(self, key: str) -> bytes:
        with _read_errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read()

    def stream(self, key: str, piece_bytes: int = STREAM_PIECE_BYTES) -> Iterator[bytes]:
        with _read_errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            yield from response["Body"].iter_chunks(piece_bytes)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as S3ConnectionError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if status == 404 or error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            if status >= 500:
                raise ObjectStoreUnreachable(f"cannot look up object {key}: {error}") from None
            raise StoreError(f"cannot look up object {key}: {error}") from None
        except (S3ConnectionError, HTTPClientError) as error:
            raise ObjectStoreUnreachable(f"cannot look up object {key}: {error}") from None
        except BotoCoreError as error:
            raise StoreError(f"cannot look up object {key}: {error}") from None
        return True

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as error:
            raise StoreWriteError(f"cannot delete object {key}: {error}") from error

    def remove_empty_folder(self, prefix: str) -> None:
        pass

    def check_writable(self) -> None:
        self.put(PROBE_KEY, b"ok\n")
        self.delete(PROBE_KEY)


def open_objects(location: str | os.PathLike[str]) -> ObjectStore:
    """`s3://bucket/prefix` as S3Objects, anything else as a local directory."""
    text = os.fspath(location)
    if text.startswith("s3://"):
        parts = urlsplit(text)
        if not parts.netloc:
            raise ValueError(f"object store {text!r}: expected s3://bucket/prefix")
        return S3Objects(parts.netloc, parts.path)
    return LocalObjects(text)


@contextmanager
def _read_errors(key: str) -> Iterator[None]:
    """botocore's errors on reading `key` as the store's: NotFound, ObjectStoreUnreachable (the
    server is down or answers 5xx) or StoreError."""
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as S3ConnectionError

    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise NotFound("object", key) from None
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if status >= 500:
            raise ObjectStoreUnreachable(f"cannot read object {key}: {error}") from None
        raise StoreError(f"cannot read object {key}: {error}") from None
    except (S3ConnectionError, HTTPClientError) as error:
        raise ObjectStoreUnreachable(f"cannot read object {key}: {error}") from None
    except BotoCoreError as error:
        raise StoreError(f"cannot read object {key}: {error}") from None
