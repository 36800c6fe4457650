"""Which worker process owns a running job, and when another delivery may take it over.

The Redis transport can deliver a task twice: when a worker dies, and when a task runs longer
than the visibility timeout while its worker is alive. The job record therefore names its owner
(`worker`: "host:pid") and carries a heartbeat (`heartbeat_at`, refreshed with every progress
write). A delivery that finds the job running under another owner takes it over only when that
owner is lost: on the same host its process is gone, or its heartbeat is older than the lease.
Each takeover counts an attempt; after `max_attempts` lost workers the job fails instead of
looping. All decisions are made inside `ModelStore.modify_job`, under the job's lock.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from model_store.ids import utc_now_iso

TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})

#: Shortest lease: an owner silent for longer than this (and not provably alive) is lost.
MIN_LEASE_SECONDS = 10.0


def lease_seconds(visibility_timeout: float) -> float:
    """How long an owner on another host may go without a heartbeat before it counts as lost."""
    return max(float(visibility_timeout), MIN_LEASE_SECONDS)


def this_worker() -> str:
    """The owner name of this process: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _age_seconds(timestamp: str | None) -> float:
    if not timestamp:
        return float("inf")
    try:
        then = datetime.fromisoformat(timestamp)
    except ValueError:
        return float("inf")
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return (datetime.now(UTC) - then).total_seconds()


def owner_lost(record: dict, lease: float, me: str | None = None) -> bool:
    """True if the job's recorded owner can no longer be running it."""
    me = me or this_worker()
    owner = record.get("worker")
    if not owner or owner == me:
        return True
    host, _, pid_text = str(owner).rpartition(":")
    if host == socket.gethostname() and pid_text.isdigit() and not _pid_alive(int(pid_text)):
        return True
    return _age_seconds(record.get("heartbeat_at")) > lease


@dataclass
class Claim:
    """The outcome of trying to take a job: "claimed", "busy", "terminal", "gave_up"."""

    outcome: str
    record: dict


def claim(store: object, job_id: str, max_attempts: int, lease: float) -> Claim:
    """Make this process the job's owner if the job is queued or its owner is lost.

    "busy": a live owner runs it (wait and ask again); "terminal": nothing to do; "gave_up": the
    job had lost `max_attempts` workers and is now failed; "claimed": run it (attempts counted).
    """
    me = this_worker()
    result: dict = {}

    def change(record: dict) -> dict | None:
        state = record["state"]
        result["record"] = record
        if state in TERMINAL_STATES:
            result["outcome"] = "terminal"
            return None
        attempts = int(record.get("attempts") or 0)
        if state == "running" and not owner_lost(record, lease, me):
            result["outcome"] = "busy"
            return None
        now = utc_now_iso()
        if state == "running" and attempts >= max_attempts:
            result["outcome"] = "gave_up"
            return {
                "state": "failed",
                "error": (
                    f"the worker running this job was lost {attempts} times "
                    f"(limit {max_attempts}); giving up"
                ),
                "finished_at": now,
                "worker": None,
            }
        result["outcome"] = "claimed"
        return {
            "state": "running",
            "attempts": attempts + 1,
            "started_at": record.get("started_at") or now,
            "worker": me,
            "heartbeat_at": now,
            "error": None,
        }

    updated = store.modify_job(job_id, change)
    return Claim(result["outcome"], updated if updated is not None else result["record"])


def owns(record: dict, me: str | None = None) -> bool:
    """Whether the job is running under this process (a read: no lock, no write)."""
    return record["state"] == "running" and record.get("worker") == (me or this_worker())


def update_if_owner(store: object, job_id: str, **fields: object) -> dict | None:
    """Set `fields` (and a fresh heartbeat) only while this process owns the running job.

    Returns None when the job is no longer ours (cancelled by the API, or taken over).
    """
    me = this_worker()

    def change(record: dict) -> dict | None:
        if not owns(record, me):
            return None
        return {**fields, "heartbeat_at": utc_now_iso()}

    return store.modify_job(job_id, change)
