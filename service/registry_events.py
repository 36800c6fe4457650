"""`GET /events`: the registry's changes as Server-Sent Events, resumable by event id.

Each event is sent as `id: <events.id>`, `event: <type>` and `data: {"id", "type", "at", ...the
type's fields}`. A stream starts after `last_event_id` (the `Last-Event-ID` header or the
`last_event_id` parameter; 0: from the oldest kept event), or without one after the newest
event there is (`newest_event_id`). It reads the events it needs from the process's shared
`EventTail` (one query per poll interval for all the streams of a process) and, when it is
further behind than the tail reaches (a client resuming after a while, a slow reader), from the
table itself, a page at a time, until it reaches the tail. So a client that reconnects with the
id of the last event it received, to any API process, gets every later event once and in order:
ids commit in id order (`model_store.events`).

If the events after `last_event_id` were pruned (older than NNSERVICE_EVENTS_RETENTION_SECONDS),
the stream first sends one `reset` event (`{"oldest_id": ...}`: the client should reload what it
shows) and goes on from the oldest kept event. Like a job's progress stream
(`service.job_events`), it starts with `retry:`, sends a `: heartbeat` comment every
`HEARTBEAT_SECONDS` and, after its time limit or when the process stops, `reconnect` (with the
`last_event_id` to resume from) before it closes.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator

from foundation.events import RECONNECT, RESET
from model_store import Event, ModelStore
from service.event_tail import POLL_SECONDS, EventTail
from service.follower import Subscription, ending
from service.job_events import HEARTBEAT_SECONDS, RETRY_MILLISECONDS, STOPPING, format_event
from service.store_outages import unreachable_part

#: Events a stream reads from the table at a time while it catches up.
PAGE_EVENTS = 500


def event_tail(store: ModelStore, poll_seconds: float = POLL_SECONDS) -> EventTail:
    """The tail of registry events the streams of one process share."""
    return EventTail(store.events.after, store.events.newest_id, poll_seconds)


def newest_event_id(store: ModelStore, tail: EventTail) -> int:
    """Where a stream without a resume point starts: the newest event id the tail has seen
    (at most one poll interval old: the stream may also send the events of that interval), or,
    while no tail runs in the process, the table's newest."""
    newest = tail.newest()
    return store.events.newest_id() if newest is None else newest


def registry_events(
    store: ModelStore,
    tail: EventTail,
    *,
    last_event_id: int,
    types: Collection[str] | None,
    max_seconds: float,
    poll_seconds: float = POLL_SECONDS,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    page_events: int = PAGE_EVENTS,
) -> Iterator[str]:
    """The text of one `/events` stream, chunk by chunk, until `max_seconds` pass.

    `last_event_id`: resume after it (0: from the oldest kept; `newest_event_id` for the
    events from now on). `types`: send only these (None: all). A read the database does not
    answer is tried again after `poll_seconds`; behind the tail, the stream reads the table
    `page_events` at a time.
    """
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    kinds = None if types is None else frozenset(types)
    with tail.follow() as subscription:
        stream = _Stream(store, tail, last_event_id, kinds, page_events)
        yield from stream.run(subscription, max_seconds, poll_seconds, heartbeat_seconds)


class _Stream:
    """Where one stream is (`position`: the id of the last event it has passed, sent or
    filtered out) and how it gets its next events."""

    def __init__(
        self,
        store: ModelStore,
        tail: EventTail,
        last_event_id: int,
        types: frozenset[str] | None,
        page_events: int,
    ) -> None:
        self.store = store
        self.tail = tail
        self.position = last_event_id
        self.types = types
        self.page_events = page_events
        self.from_table = False  # whether the last events came from the table

    def run(
        self,
        subscription: Subscription[str],
        max_seconds: float,
        poll_seconds: float,
        heartbeat_seconds: float,
    ) -> Iterator[str]:
        started = last_beat = time.monotonic()
        while True:
            caught_up, retry_soon = True, False
            try:
                chunk, caught_up = self._next()
            except Exception as error:
                if unreachable_part(error) is None:
                    raise
                chunk, retry_soon = "", True  # the database is down: read again soon
            if chunk:
                yield chunk
            now = time.monotonic()
            if now - started >= max_seconds or ending():
                reason = (
                    STOPPING
                    if ending()
                    else f"this stream ends after {max_seconds:g} s; open a new one to go on"
                )
                data = {"reason": reason, "last_event_id": self.position}
                yield format_event(RECONNECT, data)
                return
            if now - last_beat >= heartbeat_seconds:
                last_beat = now
                yield ": heartbeat\n\n"
            if not caught_up:
                continue
            due = min(last_beat + heartbeat_seconds, started + max_seconds) - time.monotonic()
            subscription.wait(poll_seconds if retry_soon else max(due, poll_seconds))

    def _next(self) -> tuple[str, bool]:
        """The messages of the stream's next events, and whether it has caught up (else it
        reads on at once). Before the tail's first poll there is nothing to do: that poll wakes
        every stream."""
        floor = self.tail.floor()  # read before the table: every event up to it has committed
        if floor is None:
            return "", True
        if self.position >= floor:
            events = self.tail.since(self.position)
            if events is not None:
                self.from_table = False
                return self._messages(events), True
        if not self.from_table:
            reset = self._reset_if_pruned()
            self.from_table = True
            if reset:
                return reset, False
        page = self.store.events.after(self.position, self.page_events)
        messages = self._messages(page)
        if len(page) < self.page_events:  # the table's end: every event up to the floor is read
            self.position = max(self.position, floor)
            return messages, True
        return messages, False

    def _reset_if_pruned(self) -> str:
        """A `reset` message if events after the position were pruned (the position moves to
        just before the oldest kept event), else nothing. Position 0 asks for the oldest."""
        if not self.position:
            return ""
        oldest = self.store.events.oldest_id()
        if oldest is None or self.position >= oldest - 1:
            return ""
        self.position = oldest - 1
        return format_event(RESET, {"oldest_id": oldest})

    def _messages(self, events: list[Event]) -> str:
        """The messages of `events` that the stream sends; the position passes them all."""
        if not events:
            return ""
        self.position = events[-1].id
        return "".join(
            format_event(event.type, event.payload(), event.id)
            for event in events
            if self.types is None or event.type in self.types
        )
