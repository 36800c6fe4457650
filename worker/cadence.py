"""At most every so many seconds: the pace of the reaper's housekeeping (pruning events,
deleting old batch predictions), which runs on each of its passes but does its work seldom."""

from __future__ import annotations

import time
from collections.abc import Callable


class Cadence:
    """`due()` is true at the first call and then once `every_seconds` have passed since the
    last call that was; a task that fails is tried again when due next."""

    def __init__(self, every_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_seconds = every_seconds
        self.clock = clock
        self._next: float | None = None

    def due(self) -> bool:
        """Whether it is time again (and, if so, the next time starts from now)."""
        tick = self.clock()
        if self._next is not None and tick < self._next:
            return False
        self._next = tick + self.every_seconds
        return True
