"""Riding out an outage of the store: a job retries what it cannot go without, for a while.

A training job's store calls (progress with its heartbeat, reads, the final snapshot and record)
may meet the database or the object store down for a moment (`model_store.outages.is_outage`
says which failures are such). An `OutageClock` measures how long the store has been failing the
job: from the first failed call after the last one that succeeded. The job retries with backoff
(blocking in `OutageClock.ride_out`; between epochs while it trains) until the clock passes
NNSERVICE_OUTAGE_SECONDS. Then `OutageTooLong` is raised: the job stops and is left to the reaper,
which requeues it once its lease has run out (it resumes from its last checkpoint) or fails it
if its attempts are spent. Any other failure is raised at once.

While the database is down nobody can renew a lease, so every running job's heartbeat ages with
the outage: an `OutageGrace` keeps whoever judges leases (the reaper, a claim of a running job)
from counting an owner lost for the time the outage lasted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import tenacity

from model_store.outages import is_outage

logger = logging.getLogger(__name__)

#: Seconds before the first retry; each next one waits twice as long, up to MAX_DELAY.
FIRST_DELAY = 0.2
#: Longest wait between two tries: how late, at most, a job notices that the store is back.
MAX_DELAY = 2.0

_Result = TypeVar("_Result")


class OutageTooLong(Exception):
    """The store stayed unreachable for longer than the window: the job is left to the reaper."""


class OutageGrace:
    """How much longer than a lease an owner may stay silent after the store was unreachable.

    From the first failure seen until a lease after the first success again, an owner counts as
    lost only if it was silent for a lease before the last success before the outage (it was
    lost already then); afterwards a lease counts as usual. The reaper keeps one for its passes;
    each worker process keeps `PROCESS_GRACE`, fed by its OutageClocks, for its claims. Times are
    `time.monotonic()`.
    """

    def __init__(self) -> None:
        self.last_good = time.monotonic()
        self.before_outage: float | None = None  # the last success before it
        self.back_at: float | None = None  # the first success after it

    @property
    def failing(self) -> bool:
        """Whether the last call failed."""
        return self.before_outage is not None and self.back_at is None

    def seconds(self, lease: float, now: float | None = None) -> float:
        """The seconds to add to `lease` when judging owners at `now`."""
        now = time.monotonic() if now is None else now
        if self.before_outage is None:
            return 0.0
        if self.back_at is not None and now >= self.back_at + lease:
            self.before_outage = self.back_at = None
            return 0.0
        return now - self.before_outage

    def failed(self) -> None:
        """A call could not reach the store."""
        if self.before_outage is None:
            self.before_outage = self.last_good
        self.back_at = None

    def succeeded(self, now: float | None = None) -> None:
        """A call (started at `now`) went through."""
        now = time.monotonic() if now is None else now
        self.last_good = now
        if self.failing:
            self.back_at = now


#: This process's grace: its claims of a running job allow for the outages it saw.
PROCESS_GRACE = OutageGrace()


class OutageClock:
    """How long the store has been failing one job, against the window it may wait out."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.since: float | None = None
        self.failures = 0

    def seconds(self) -> float:
        """Seconds since the first failure of the current outage (0 if there is none)."""
        return 0.0 if self.since is None else time.monotonic() - self.since

    def expired(self) -> bool:
        return self.since is not None and self.seconds() >= self.window

    def failed(self, error: BaseException, what: str) -> None:
        """Note a failed store call: raise `error` unless it is an outage, OutageTooLong once the
        outage has lasted the window."""
        if not is_outage(error):
            raise error
        self._note(error, what)
        if self.expired():
            raise self._too_long(what) from error

    def _note(self, error: BaseException, what: str) -> None:
        PROCESS_GRACE.failed()
        if self.since is None:
            self.since = time.monotonic()
            logger.warning("the store is unreachable while %s (%s); waiting it out", what, error)
        self.failures += 1

    def _too_long(self, what: str) -> OutageTooLong:
        seconds = self.seconds()
        return OutageTooLong(f"the store stayed unreachable for {seconds:.0f} s while {what}")

    def succeeded(self) -> None:
        """A store call went through: the outage, if any, is over."""
        PROCESS_GRACE.succeeded()
        if self.since is not None:
            logger.info("the store answers again after %.1f s", self.seconds())
        self.since = None
        self.failures = 0

    def retry_delay(self, interval: float) -> float:
        """When to try a periodic write again that runs every `interval` seconds: at its own
        pace while the store answers, with growing pauses (up to MAX_DELAY) while it does not."""
        if self.failures == 0:
            return interval
        return max(interval, min(MAX_DELAY, FIRST_DELAY * 2 ** (self.failures - 1)))

    def ride_out(
        self,
        what: str,
        call: Callable[[], _Result],
        between: Callable[[], None] | None = None,
    ) -> _Result:
        """`call()`, tried again with backoff while it fails with an outage and the window lasts.

        `between` runs before each pause (to keep a lease while the object store is down); what
        it raises ends the retries. Raises OutageTooLong after the window, any other failure at
        once.
        """

        def note(state: tenacity.RetryCallState) -> None:
            self._note(state.outcome.exception(), what)

        def pause(_state: tenacity.RetryCallState) -> None:
            if between is not None:
                between()

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_outage),
            after=note,
            stop=lambda _state: self.expired(),
            wait=tenacity.wait_exponential(multiplier=FIRST_DELAY, max=MAX_DELAY),
            before_sleep=pause,
            reraise=True,
        )
        try:
            result = retrying(call)
        except Exception as error:
            if is_outage(error):  # still failing when the window ran out
                raise self._too_long(what) from error
            raise
        self.succeeded()
        return result
