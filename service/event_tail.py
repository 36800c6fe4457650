"""The newest registry events, kept in memory by one poller per process for all its `/events`
streams.

Every `interval` seconds the tail asks the store for the events after the newest it has seen
(`SELECT ... FROM events WHERE id > :newest_seen ORDER BY id LIMIT :batch`: one query, whatever
the number of streams) and wakes every stream. It keeps the last `size` events: it holds every
event with an id above `floor()`, so a stream at or past the floor reads its next events from
memory; one further back reads the table itself, a page at a time, until it reaches the floor.
The poller (`service.follower.Poller`) starts with the first stream, and its first poll asks
only for the newest id (the tail starts empty, at the present); it ends with the last stream,
and the tail is dropped with it, so nothing is polled while nobody follows.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from model_store import Event
from service.follower import Poller, Subscription

#: Seconds between two polls (a new event reaches the streams within this).
POLL_SECONDS = 0.2
#: Events one poll reads at most (more wait for the next poll).
POLL_EVENTS = 500
#: Events the tail keeps in memory.
TAIL_EVENTS = 1000


class EventTail(Poller):
    """The last `size` events after the tail started, polled every `interval` seconds."""

    def __init__(
        self,
        after: Callable[[int, int], list[Event]],
        newest_id: Callable[[], int],
        interval: float = POLL_SECONDS,
        *,
        batch: int = POLL_EVENTS,
        size: int = TAIL_EVENTS,
    ) -> None:
        super().__init__(interval, "registry-events-tail", first_delay=0.0)
        self.after = after
        self.newest_id = newest_id
        self.batch = batch
        self.size = size
        self._subscriptions: set[Subscription[str]] = set()
        self._events: list[Event] = []
        self._floor: int | None = None
        self._newest: int | None = None

    @contextmanager
    def follow(self) -> Iterator[Subscription[str]]:
        """Be woken (`wait`) after each poll that found new events, for the `with` block."""
        subscription: Subscription[str] = Subscription("events")
        with self._lock:
            self._subscriptions.add(subscription)
            self._start_if_idle()
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions.discard(subscription)

    def followed(self) -> int:
        """How many streams follow the tail."""
        with self._lock:
            return len(self._subscriptions)

    def newest(self) -> int | None:
        """The newest event id the tail has seen (None until its first poll)."""
        with self._lock:
            return self._newest

    def floor(self) -> int | None:
        """The tail holds every event with an id above this (None until its first poll)."""
        with self._lock:
            return self._floor

    def since(self, last_id: int) -> list[Event] | None:
        """The events after `last_id`, oldest first; None if the tail does not hold all of them
        (`last_id` is below its floor, or it has not polled yet): read them from the table."""
        with self._lock:
            if self._floor is None or last_id < self._floor:
                return None
            start = bisect.bisect_right(self._events, last_id, key=lambda event: event.id)
            return self._events[start:]

    def _subscribers(self) -> Iterator[Subscription[str]]:
        return iter(self._subscriptions)

    def _collect(self) -> int | None:
        if not self._subscriptions:
            self._events, self._floor, self._newest = [], None, None  # start afresh next time
            return None
        return -1 if self._newest is None else self._newest

    def _poll(self, newest: int) -> None:
        if newest < 0:
            found, start = [], self.newest_id()
        else:
            found = self.after(newest, self.batch)
            start = None
            if not found:
                return
        with self._lock:
            if start is not None:
                self._floor = self._newest = start
            else:
                self._events.extend(found)
                self._newest = found[-1].id
                excess = len(self._events) - self.size
                if excess > 0:
                    self._floor = self._events[excess - 1].id
                    del self._events[:excess]
            for subscription in self._subscriptions:
                subscription.offer(self._newest)
