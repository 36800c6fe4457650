"""Event streams share one follower per process: 50 streams open on one in-process server
(werkzeug, a thread per connection) following 5 jobs cost the database one query per poll
interval, and a change of one job costs one read per stream that follows it; 50 `/events`
streams cost one query per poll interval, a new event none more, and nothing once they close.

Queries are counted for real, on the app's own engine, with SQLAlchemy's event API
(`before_cursor_execute`); the test waits for the follower's polls, never for a fixed time.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from stack import wait_until  # tests/stack.py
from stores import migrated
from werkzeug.serving import make_server

from foundation.settings import Settings
from model_store import STATES, ModelStore
from service import create_app
from service.context import EXTENSION, Services
from service.event_tail import POLL_SECONDS as TAIL_POLL_SECONDS
from service.follower import Follower
from service.job_events import POLL_SECONDS

STREAMS, JOBS = 50, 5
#: Polls to watch while every stream idles (the streams would cost STREAMS times as many).
POLLS = 10
DEADLINE_SECONDS = 60.0
TRANSACTION_CONTROL = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"}


class Queries:
    """Every query the engine sends, as (monotonic time, SQL text), while it listens (not the
    BEGIN that SQLite's engine sends before each transaction)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __call__(self, conn, cursor, statement: str, *args: object) -> None:
        if statement.strip().upper() in TRANSACTION_CONTROL:
            return
        with self._lock:
            self.statements.append((time.monotonic(), statement))

    def since(self, mark: int) -> list[str]:
        with self._lock:
            return [text for _, text in self.statements[mark:]]

    def mark(self) -> int:
        with self._lock:
            return len(self.statements)


def is_record_read(statement: str) -> bool:
    """A stream reading its job's whole row (a follower's poll reads only ids and versions)."""
    return statement.lstrip().upper().startswith("SELECT") and "jobs.state" in statement


class Stream:
    """One `GET /jobs/{id}/events` (or `path`) over a raw socket; `text` is what has arrived so
    far."""

    def __init__(self, port: int, job_id: str, path: str | None = None) -> None:
        self.job_id = job_id
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        path = path or f"/jobs/{job_id}/events"
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        self.text = ""

    def read_ready(self) -> None:
        while select.select([self.sock], [], [], 0)[0]:
            data = self.sock.recv(65536)
            if not data:
                return
            self.text += data.decode()

    def events(self, name: str) -> int:
        self.read_ready()
        return self.text.count(f"event: {name}\n")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, ModelStore, Services]]:
    """The API in process on a free port, with one store handle for the test to write with."""
    settings = Settings(
        redis_url="redis://127.0.0.1:9/0", store_path=tmp_path / "store", events_max_seconds=300
    )
    app = create_app(migrated(settings))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    store = ModelStore.from_settings(settings)
    try:
        yield server.server_port, store, app.extensions[EXTENSION]
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        store.close()


def test_fifty_streams_cost_one_query_per_interval_and_a_change_one_read_per_follower(
    served: tuple[int, ModelStore, Services],
) -> None:
    port, store, services = served
    jobs = [f"job{n}" for n in range(JOBS)]
    for job_id in jobs:
        store.jobs.create({"id": job_id, "hyperparameters": {"epochs": 10}})
    queries = Queries(services.store.engine)
    sa.event.listen(services.store.engine, "before_cursor_execute", queries)
    streams = [Stream(port, jobs[n % JOBS]) for n in range(STREAMS)]
    try:
        wait_until(lambda: all(s.events("progress") == 1 for s in streams), "the first events")
        wait_until(lambda: services.job_follower.followed() == STREAMS, "every stream to follow")

        # Idle jobs: the streams cost only the follower's polls, one per interval.
        start, mark = time.monotonic(), queries.mark()
        wait_until(lambda: len(queries.since(mark)) >= POLLS, f"{POLLS} queries")
        elapsed = time.monotonic() - start
        idle = queries.since(mark)
        assert not [q for q in idle if is_record_read(q)], "an idle stream read its record"
        assert len(idle) <= elapsed / POLL_SECONDS + 1, (len(idle), elapsed)

        # One job changes: only its streams wake, and each reads the record once.
        changed = [s for s in streams if s.job_id == jobs[0]]
        mark = queries.mark()
        assert store.jobs.transition(jobs[0], STATES, state="running") is not None
        wait_until(lambda: all(s.events("progress") == 2 for s in changed), "the change's events")
        reads = [q for q in queries.since(mark) if is_record_read(q)]
        assert len(reads) == len(changed) == STREAMS // JOBS
        assert all(s.events("progress") == 1 for s in streams if s not in changed)
    finally:
        sa.event.remove(services.store.engine, "before_cursor_execute", queries)
        for job_id in jobs:  # every stream sends `end` and closes
            store.jobs.transition(job_id, STATES, state="cancelled")
        wait_until(lambda: all(s.events("end") == 1 for s in streams), "every stream's end")
        for stream in streams:
            stream.sock.close()
    wait_until(lambda: services.job_follower.followed() == 0, "the streams to leave")


def is_events_poll(statement: str) -> bool:
    """The tail's poll: the events after the newest it has seen."""
    text = statement.upper()
    return text.lstrip().startswith("SELECT") and "FROM EVENTS" in text and "EVENTS.ID >" in text


def test_fifty_registry_streams_cost_one_query_per_interval_and_a_new_event_none_more(
    served: tuple[int, ModelStore, Services],
) -> None:
    port, store, services = served
    tail = services.event_tail
    queries = Queries(services.store.engine)
    sa.event.listen(services.store.engine, "before_cursor_execute", queries)
    streams = [Stream(port, "", "/events") for _ in range(STREAMS)]
    try:
        wait_until(lambda: tail.followed() == STREAMS, "every stream to follow")
        wait_until(lambda: tail.newest() is not None, "the tail's first poll")

        # Idle: the streams cost only the tail's polls, one per interval, whatever their number.
        start, mark = time.monotonic(), queries.mark()
        wait_until(lambda: len(queries.since(mark)) >= POLLS, f"{POLLS} queries")
        elapsed = time.monotonic() - start
        idle = queries.since(mark)
        assert all(is_events_poll(q) for q in idle), idle
        assert len(idle) <= elapsed / TAIL_POLL_SECONDS + 1, (len(idle), elapsed)

        # A new event reaches every stream from the tail: still one query per interval.
        start, mark = time.monotonic(), queries.mark()
        store.jobs.create({"id": "announced", "hyperparameters": {}})
        wait_until(lambda: all(s.events("job_state") == 1 for s in streams), "the event")
        elapsed = time.monotonic() - start
        during = queries.since(mark)
        assert all(is_events_poll(q) for q in during), during
        assert len(during) <= elapsed / TAIL_POLL_SECONDS + 1, (len(during), elapsed)
        assert all('"job_id":"announced"' in s.text for s in streams)
    finally:
        sa.event.remove(services.store.engine, "before_cursor_execute", queries)
        for stream in streams:
            stream.sock.close()
    # A stream notices its client has gone when it next writes: new events tell them all.
    nudged = [time.monotonic()]

    def left() -> bool:
        if tail.followed() and time.monotonic() - nudged[-1] > TAIL_POLL_SECONDS:
            store.jobs.create({"id": f"nudge-{len(nudged)}", "hyperparameters": {}})
            nudged.append(time.monotonic())
        return tail.followed() == 0

    wait_until(left, "the streams to leave")
    # Nobody follows: the tail's poller ends, so nothing is polled any more.
    wait_until(lambda: not tail.polling(), "the tail to stop")


def test_a_follower_polls_once_for_all_keys_and_wakes_only_the_changed_ones() -> None:
    versions = {"a": 1, "b": 1}
    polled: list[list[str]] = []

    def poll(keys):
        polled.append(sorted(keys))
        return {key: versions[key] for key in keys if key in versions}

    follower: Follower[str] = Follower(poll, interval=0.01)
    with follower.follow("a") as a1, follower.follow("a") as a2, follower.follow("b") as b:
        for subscription in (a1, a2, b):  # the first poll tells every follower its version
            assert subscription.wait(DEADLINE_SECONDS) and subscription.version == 1
        versions["a"] = 2
        assert a1.wait(DEADLINE_SECONDS) and a2.wait(DEADLINE_SECONDS)
        assert (a1.version, a2.version) == (2, 2)
        assert not b.wait(0) and b.version == 1
        del versions["b"]  # gone: its followers see None
        assert b.wait(DEADLINE_SECONDS) and b.version is None
        assert polled and all(keys == ["a", "b"] for keys in list(polled))
    wait_until(lambda: follower.followed() == 0, "the followers to leave")
