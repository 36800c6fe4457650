"""One poller per process that fans changes out to everyone following something in it.

A `Follower` is given a `poll` function: asked for a set of keys, it returns the current version
of each that exists (one database query, e.g. `SELECT id, version FROM jobs WHERE id IN (...)`).
Every `interval` seconds the follower asks it once for all the keys anybody in this process
follows, and wakes only the followers of the keys whose version changed (a key missing from the
answer has the version None: it is gone). So a thousand streams watching jobs cost one query per
interval, not a thousand, and nothing is polled while nobody follows.

The poller (`Poller`, shared with the registry's event tail, `service.registry_events`) is a
thread started on the first `follow` and ended when the last follower leaves; in
the API's gevent worker (a monkey-patched process) the thread, its sleep and the events are
greenlets and gevent's primitives, so it runs in every worker process on its own.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

#: The version a subscription starts with, before the follower has polled its key.
UNSEEN = object()
#: Set once the process stops (`end_streams`): every stream then ends with `reconnect`.
_ENDING = threading.Event()
#: Every poller of the process, woken by `end_streams`.
_POLLERS: weakref.WeakSet[Poller] = weakref.WeakSet()


def end_streams() -> None:
    """The process is stopping (the API's worker got SIGTERM): wake every stream, which then
    ends with `reconnect` at once, so its client reconnects to a process that stays and a
    graceful stop does not wait for streams that would never end by themselves."""
    _ENDING.set()
    for poller in list(_POLLERS):
        poller.wake_all()


def ending() -> bool:
    """Whether the process is stopping (`end_streams`)."""
    return _ENDING.is_set()


class Subscription(Generic[K]):
    """One follower of one key: `version` is the newest the poller saw; `wait` for a change."""

    def __init__(self, key: K) -> None:
        self.key = key
        self.version: object = UNSEEN
        self._changed = threading.Event()

    def offer(self, version: object) -> None:
        """The poller's latest version of the key: wakes the follower if it differs."""
        if version != self.version:
            self.version = version
            self._changed.set()

    def wake(self) -> None:
        """Wake the follower whatever the version (the process is stopping)."""
        self._changed.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the key's version to change; whether it did."""
        changed = self._changed.wait(timeout)
        self._changed.clear()  # `version` is read after this, so no change can be missed
        return changed


class Poller:
    """A thread that polls every `interval` seconds while anybody follows, and ends when nobody
    does: the loop the followers of a process share.

    Subclasses say what one poll needs, under the lock (`_collect`: None when nobody follows,
    which ends the thread), and make it (`_poll`, outside the lock; an exception is logged once
    and the poll tried again at the next interval). `first_delay` is how long the thread waits
    before its first poll.
    """

    def __init__(self, interval: float, name: str, first_delay: float | None = None) -> None:
        self.interval = interval
        self.name = name
        self.first_delay = interval if first_delay is None else first_delay
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        _POLLERS.add(self)

    def wake_all(self) -> None:
        """Wake every subscription (`end_streams`)."""
        with self._lock:
            subscriptions = list(self._subscribers())
        for subscription in subscriptions:
            subscription.wake()

    def _subscribers(self) -> Iterator[Subscription]:
        """Every open subscription (called with `_lock` held)."""
        raise NotImplementedError

    def _start_if_idle(self) -> None:
        """Start the poller thread unless it runs (call with `_lock` held)."""
        if self._thread is None or not self._thread.is_alive():  # not yet, or before a fork
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def polling(self) -> bool:
        """Whether the poller thread runs (it ends once nobody follows)."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def _collect(self) -> object | None:
        """What the next poll needs, or None if nobody follows (called with `_lock` held)."""
        raise NotImplementedError

    def _poll(self, work: object) -> None:
        """One poll, with what `_collect` returned."""
        raise NotImplementedError

    def _run(self) -> None:
        """Poll every `interval` while anybody follows; end when nobody does."""
        failing = False
        delay = self.first_delay
        while True:
            time.sleep(delay)
            delay = self.interval
            with self._lock:
                work = self._collect()
                if work is None:
                    self._thread = None
                    return
            try:
                self._poll(work)
            except Exception:  # noqa: BLE001 - e.g. the database is unreachable: try again later
                if not failing:
                    logger.warning("%s: polling failed; trying again", self.name, exc_info=True)
                failing = True
                continue
            if failing:
                logger.warning("%s: polling works again", self.name)
                failing = False


class Follower(Poller, Generic[K]):
    """Polls the versions of every followed key once per `interval` and wakes their followers."""

    def __init__(
        self,
        poll: Callable[[Collection[K]], Mapping[K, object]],
        interval: float,
        name: str = "follower",
    ) -> None:
        super().__init__(interval, name)
        self.poll = poll
        self._subscriptions: dict[K, set[Subscription[K]]] = {}

    @contextmanager
    def follow(self, key: K) -> Iterator[Subscription[K]]:
        """Follow `key` for the duration of the `with` block (the poller starts if idle)."""
        subscription: Subscription[K] = Subscription(key)
        with self._lock:
            self._subscriptions.setdefault(key, set()).add(subscription)
            self._start_if_idle()
        try:
            yield subscription
        finally:
            with self._lock:
                followers = self._subscriptions.get(key, set())
                followers.discard(subscription)
                if not followers:
                    self._subscriptions.pop(key, None)

    def followed(self) -> int:
        """How many subscriptions are open (all keys)."""
        with self._lock:
            return sum(map(len, self._subscriptions.values()))

    def _subscribers(self) -> Iterator[Subscription[K]]:
        for subscriptions in self._subscriptions.values():
            yield from subscriptions

    def _collect(self) -> list[K] | None:
        return list(self._subscriptions) or None

    def _poll(self, keys: list[K]) -> None:
        versions = self.poll(keys)
        with self._lock:
            for key in keys:  # a key followed since the poll began waits for the next one
                for subscription in self._subscriptions.get(key, ()):
                    subscription.offer(versions.get(key))
