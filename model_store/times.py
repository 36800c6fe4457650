"""Store times: integer microseconds since the epoch in the database, ISO 8601 in records."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_us() -> int:
    """Now, in microseconds since the epoch."""
    return time.time_ns() // 1000


def iso(us: int | None) -> str | None:
    """`2026-12-02T05:19:46.123456Z` for a time in microseconds (None stays None)."""
    if us is None:
        return None
    seconds, micros = divmod(us, 1_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{micros:06d}Z"


def from_iso(text: str | None) -> int | None:
    """Microseconds since the epoch of an ISO 8601 time (naive means UTC); None if unusable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
