"""Store ids: validation (the only gate between an id and a path), generation and timestamps."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

from model_store.errors import InvalidId

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
MAX_ID_LENGTH = 128


def validate_id(value: object) -> str:
    """Return `value` if it matches `^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`, else raise InvalidId.

    `fullmatch` (not `$`) so that a trailing newline is refused too.
    """
    if not isinstance(value, str) or ID_PATTERN.fullmatch(value) is None:
        raise InvalidId(value)
    return value


def new_model_id() -> str:
    """A fresh random model id: "m-" + 24 hex characters."""
    return "m-" + secrets.token_hex(12)


def model_id_for_job(job_id: str) -> str:
    """The one id a job's model gets, so a retried job can never save two models.

    "m-" + job id; a job id too long for that prefix is replaced by 32 hex chars of its sha256.
    """
    validate_id(job_id)
    if len(job_id) + 2 > MAX_ID_LENGTH:
        job_id = hashlib.sha256(job_id.encode()).hexdigest()[:32]
    return validate_id("m-" + job_id)


def dataset_id_for(content_sha256: str) -> str:
    """The dataset id for content with this sha256: "ds-" + its first 24 hex characters."""
    return validate_id("ds-" + content_sha256[:24])


def utc_now_iso() -> str:
    """Now, UTC, ISO 8601 with microseconds and "Z" (sorts lexicographically in time order)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
