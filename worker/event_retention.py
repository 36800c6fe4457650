"""Pruning the registry's old events: a worker's reaper does it every few minutes.

Events older than NNSERVICE_EVENTS_RETENTION_SECONDS go, in one DELETE (`store.events.prune`:
a prefix of the ids, never the newest). Every worker's reaper prunes at its first pass and then
at most every `PRUNE_EVERY_SECONDS`; several workers pruning at once delete the same rows once.
A client resuming from an event that was pruned gets a `reset` event (`GET /events`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from model_store import ModelStore
from model_store.times import now_us
from worker.cadence import Cadence

log = logging.getLogger(__name__)

#: Seconds between two prunes by one worker.
PRUNE_EVERY_SECONDS = 300.0


class EventPruner:
    """Prunes events older than `retention_seconds`, at most every `every_seconds`."""

    def __init__(
        self,
        retention_seconds: float,
        every_seconds: float = PRUNE_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retention_seconds = retention_seconds
        self.cadence = Cadence(every_seconds, clock)

    def prune_if_due(self, store: ModelStore) -> int | None:
        """Prune if the last prune was `every_seconds` ago (or there was none): how many events
        went, or None if it was not due. A failed prune is tried again when due next."""
        if not self.cadence.due():
            return None
        pruned = store.events.prune(now_us() - int(self.retention_seconds * 1_000_000))
        if pruned:
            log.info("pruned %d registry events older than %g s", pruned, self.retention_seconds)
        return pruned
