"""Deleting old batch predictions: a worker's reaper does it every few minutes.

Batches that ended (succeeded, failed or cancelled) more than NNSERVICE_BATCH_RETENTION_SECONDS
ago are deleted as `DELETE /batch-predictions/{id}` deletes them (`ModelStore.delete_batch`:
record, chunks, input copy and results); 0, the default, keeps them until deleted. Whatever the
setting, a deletion that was cut short (a crash between hiding a batch and removing its rows) is
finished here. Every worker's reaper sweeps at its first pass and then at most every
`SWEEP_EVERY_SECONDS`, a bounded number of batches each time; several workers sweeping at once
delete each batch once (each step of a deletion may run twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from model_store import ModelStore
from model_store.batch_deletion import delete_expired
from model_store.times import now_us
from worker.cadence import Cadence
from worker.event_retention import PRUNE_EVERY_SECONDS

log = logging.getLogger(__name__)

#: Seconds between two sweeps by one worker (as the events' prune).
SWEEP_EVERY_SECONDS = PRUNE_EVERY_SECONDS


class BatchSweeper:
    """Deletes batches that ended more than `retention_seconds` ago (none if 0) and finishes
    deletions cut short, at most every `every_seconds`."""

    def __init__(
        self,
        retention_seconds: float,
        every_seconds: float = SWEEP_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retention_seconds = retention_seconds
        self.cadence = Cadence(every_seconds, clock)

    def sweep_if_due(self, store: ModelStore, now: int | None = None) -> list[str] | None:
        """Sweep if the last sweep was `every_seconds` ago (or there was none): the batch ids
        deleted, or None if it was not due. `now` is the time in microseconds since the epoch
        that "ended longer ago" counts from (default: now). A failed sweep is tried again when
        due next."""
        if not self.cadence.due():
            return None
        cutoff = None
        if self.retention_seconds > 0:
            cutoff = (now_us() if now is None else now) - int(self.retention_seconds * 1_000_000)
        deleted = delete_expired(store.batches, store.objects, cutoff)
        if deleted:
            log.info(
                "deleted %d batch predictions (ended over %g s ago, or left half-deleted)",
                len(deleted),
                self.retention_seconds,
            )
        return deleted
