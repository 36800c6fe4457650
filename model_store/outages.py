"""Which of the store's failures are outages: the database or the object store gone for a while.

A caller that can wait (a training job) retries an outage and fails on anything else. An outage is
the database not answering (SQLAlchemy's OperationalError, InterfaceError or pool timeout, or a
connection the driver had to drop), the S3 server not answering (botocore's connection errors,
or a 5xx answer), or an OSError on the local directory (permissions, a read-only mount, an I/O
error, a network file system gone). A full disk is not an outage: it does not pass by itself, so
a write that meets one fails at once ("No space left on device"), whether under the object store
or under the database. Nor is a path that cannot be what the store needs there (a file where a
directory must go, a name too long, a file too large), nor any of the store's definite answers
(no such object, already exists, corrupt, invalid), whatever caused them.

The store's own errors keep what caused them (`raise ... from error`, or the exception being
handled when they were raised), so the whole chain is looked at.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

import sqlalchemy as sa
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from model_store.database import is_disk_full
from model_store.errors import (
    AlreadyExists,
    CorruptSnapshot,
    InUse,
    InvalidId,
    InvalidPageToken,
    InvalidSnapshot,
    NotFound,
    ObjectStoreUnreachable,
    SchemaOutOfDate,
)

#: OSError numbers of a full disk or an exhausted quota.
_FULL_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: OSError numbers of a path that cannot be what the store needs: waiting does not change them.
_WRONG_PATH_ERRNOS = frozenset(
    {errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EFBIG}
)
#: The store's definite answers: what they say stays true however long one waits.
_ANSWERS = (
    AlreadyExists,
    CorruptSnapshot,
    InUse,
    InvalidId,
    InvalidPageToken,
    InvalidSnapshot,
    NotFound,
    SchemaOutOfDate,
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception that caused it or was being handled when it was raised."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_full_disk(error: BaseException) -> bool:
    """Whether `error` comes from a full disk (under the object store or the database)."""
    for cause in _chain(error):
        if isinstance(cause, OSError) and cause.errno in _FULL_DISK_ERRNOS:
            return True
        if is_disk_full(cause):
            return True
    return False


def _is_unreachable(cause: BaseException) -> bool:
    if isinstance(cause, ObjectStoreUnreachable):
        return True
    if isinstance(cause, sa.exc.DBAPIError) and cause.connection_invalidated:
        return True
    if isinstance(cause, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError):
        return True
    if isinstance(cause, ConnectionError | HTTPClientError):
        return True
    if isinstance(cause, ClientError):
        status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500
    return isinstance(cause, OSError) and cause.errno not in _WRONG_PATH_ERRNOS


def is_outage(error: BaseException) -> bool:
    """Whether `error` means the database or the object store is unreachable for now (worth
    retrying), rather than a failure that waiting does not mend (see the module docstring)."""
    if is_full_disk(error) or any(isinstance(cause, _ANSWERS) for cause in _chain(error)):
        return False
    return any(_is_unreachable(cause) for cause in _chain(error))
