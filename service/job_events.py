"""Server-Sent Events for one training job, read from its record in the store.

The streams of a process share one `Follower` of job versions (`job_follower`): every
`POLL_SECONDS` it asks the store for the versions of all the jobs followed in the process (one
query, `store.jobs.versions`) and wakes the streams whose job changed; a stream then reads
its job's whole record. So watchers cost one query per interval and process however many there
are, plus one read per stream and change of its job. A stream sends a `progress` event whenever
the state or the progress changes (the first one at once, so a late client starts from the
present), a comment line every `HEARTBEAT_SECONDS` (so clients and proxies see a live
connection, and a vanished client is noticed), and ends with one of:

- `end`: the job reached a final state (or its record is gone); the data holds the outcome;
- `reconnect`: the stream's time limit came first, or the API process is stopping
  (`service.follower.end_streams`); the client opens a new stream.

No Redis, no Celery: the worker writes progress into the record, and this only reads it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from foundation.states import TERMINAL_STATES
from model_store import JobRecord, ModelStore, NotFound, StoreError
from service.follower import Follower, Subscription, ending

POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15.0
#: Sent as the stream's `retry:` field: how long an EventSource waits before reconnecting.
RETRY_MILLISECONDS = 2000
#: A stream on a server that runs one request at a time per process (`wsgi.multithread` false;
#: never under `nnservice api`, whose gevent worker gives each request a greenlet) holds the
#: whole process: end such streams well before a typical 60 s worker timeout.
SINGLE_THREADED_MAX_SECONDS = 25.0
#: The `reconnect` reason of a stream ended because its API process stops.
STOPPING = "this API process is stopping; open a new stream to go on"


def stream_seconds(configured: float, multithreaded: bool) -> float:
    """How long one stream may last: `configured`, capped on one-request-at-a-time servers."""
    return configured if multithreaded else min(configured, SINGLE_THREADED_MAX_SECONDS)


def format_event(event: str, data: dict, event_id: int | None = None) -> str:
    """One SSE message: `event:`, optional `id:`, one `data:` line of compact JSON."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head + f"data: {json.dumps(data, separators=(',', ':'), allow_nan=False)}\n\n"


def progress_payload(record: JobRecord) -> dict:
    """The `progress` event's data: state, epoch, epochs, loss, validation_loss."""
    progress = record.progress or {}
    return {
        "job_id": record.id,
        "state": record.state,
        "epoch": progress.get("epoch"),
        "epochs": progress.get("epochs"),
        "loss": progress.get("loss"),
        "validation_loss": progress.get("validation_loss"),
    }


def end_payload(record: JobRecord) -> dict:
    """The `end` event's data: the last progress plus the outcome (model, metrics, the
    promotion gate's decision, early stopping's stopped and best epochs, error)."""
    return {
        **progress_payload(record),
        "model_id": record.model_id,
        "metrics": record.metrics,
        "promotion": record.promotion,
        "stopped_epoch": record.stopped_epoch,
        "best_epoch": record.best_epoch,
        "error": record.error,
        "finished_at": record.finished_at,
    }


def job_follower(store: ModelStore, poll_seconds: float = POLL_SECONDS) -> Follower[str]:
    """The follower of job versions the streams of one process share (one query per poll)."""
    return Follower(store.jobs.versions, poll_seconds, name="job-events-follower")


def job_events(
    store: ModelStore,
    job_id: str,
    *,
    max_seconds: float,
    poll_seconds: float = POLL_SECONDS,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    follower: Follower[str] | None = None,
) -> Iterator[str]:
    """The text of the event stream for `job_id`, chunk by chunk, until the job ends or
    `max_seconds` pass.

    `follower` is the process's shared `job_follower`; without one the stream has its own,
    polling every `poll_seconds`. Between its own wakes (heartbeats, the time limit) the stream
    waits at least `poll_seconds`, so it sends at most one heartbeat per poll; a read that
    failed is tried again after `poll_seconds`.
    """
    follower = follower or job_follower(store, poll_seconds)
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    with follower.follow(job_id) as subscription:
        yield from _events(
            store,
            subscription,
            max_seconds=max_seconds,
            poll_seconds=poll_seconds,
            heartbeat_seconds=heartbeat_seconds,
        )


def _events(
    store: ModelStore,
    subscription: Subscription[str],
    *,
    max_seconds: float,
    poll_seconds: float,
    heartbeat_seconds: float,
) -> Iterator[str]:
    """The events after `retry:`: the job's record is read at once, then each time the
    follower sees its version change."""
    job_id = subscription.key
    started = last_beat = time.monotonic()
    last_version: object = object()  # never equal to a version: the first pass reads
    last_sent: dict | None = None
    event_id = 0
    read = True
    while True:
        if read:
            try:
                record = store.jobs.get(job_id)
            except NotFound:
                message = f"job {job_id!r} no longer exists"
                yield format_event("end", {"job_id": job_id, "state": None, "error": message})
                return
            except StoreError:  # unreadable right now: read again at the next wake
                record = None
            if record is not None:
                read = False
                last_version = record.version
                payload = progress_payload(record)
                if payload != last_sent:
                    event_id += 1
                    last_sent = payload
                    yield format_event("progress", payload, event_id)
                if record.state in TERMINAL_STATES:
                    yield format_event("end", end_payload(record), event_id + 1)
                    return
        now = time.monotonic()
        if now - started >= max_seconds or ending():
            reason = (
                STOPPING
                if ending()
                else f"this stream ends after {max_seconds:g} s; open a new one to follow the job"
            )
            yield format_event("reconnect", {"job_id": job_id, "reason": reason})
            return
        if now - last_beat >= heartbeat_seconds:
            last_beat = now
            yield ": heartbeat\n\n"
        due = min(last_beat + heartbeat_seconds, started + max_seconds) - time.monotonic()
        changed = subscription.wait(poll_seconds if read else max(due, poll_seconds))
        read = read or (changed and subscription.version != last_version)
