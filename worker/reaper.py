"""The reaper: every worker repairs the store's jobs now and then, so no job stays stuck.

A thread in each worker's main process (a Celery bootstep, started and stopped with the worker;
no extra service to run) calls `ModelStore.reap_jobs` every `interval` seconds: jobs whose
owner stopped renewing its lease are requeued (or failed after NNSERVICE_MAX_ATTEMPTS), and jobs
that sat queued longer than a lease since their task was sent have it sent again. Reapers in
many workers may run at once: every repair is a conditional update, so each happens once, and a
duplicate message is dropped by the worker that receives it.

While the database is down nobody can renew a lease, so every running job's heartbeat ages with
the outage. A reaper that could not reach the store therefore gives each owner a full lease after
it can again before it counts it lost (`OutageGrace`): a job that waited the outage out keeps its
lease and its attempt.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import bootsteps

from foundation.settings import Settings
from model_store import ModelStore, StoreError
from worker.names import TRAIN_TASK
from worker.training_job import lease_seconds

log = logging.getLogger(__name__)


def reap_once(store: object, celery: object, settings: Settings, grace: float = 0.0) -> list[str]:
    """One pass: repair what needs it and re-send tasks; returns the re-sent job ids.

    `grace`: seconds an owner may be silent beyond its lease before it counts as lost.
    """
    lease = lease_seconds(settings.visibility_timeout)
    repairs = store.reap_jobs(lease + grace, settings.max_attempts, resend_after=lease)
    for job_id in repairs.requeued:
        log.warning("job %s lost its worker (no heartbeat for %.0f s): requeued", job_id, lease)
    for job_id in repairs.ended:
        log.warning("job %s ended by the reaper", job_id)
        try:
            store.delete_checkpoint(job_id)
        except (StoreError, OSError) as error:  # the object store is down: the sends go on
            log.warning("could not delete the checkpoint of job %s: %s", job_id, error)
    for job_id in repairs.resend:
        celery.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, task_id=job_id)
        log.info("job %s: task sent again", job_id)
    return repairs.resend


class OutageGrace:
    """The extra silence the reaper allows owners after it could not reach the store.

    From its first failed pass until a lease after its first good pass again, an owner is lost
    only if it was silent for a lease before the reaper's last good pass before the outage (it
    was lost already then); afterwards the lease counts as usual. Times are `time.monotonic()`.
    """

    def __init__(self, lease: float, now: float) -> None:
        self.lease = lease
        self.last_good = now
        self.before_outage: float | None = None  # the last good pass before it
        self.back_at: float | None = None  # the first good pass after it

    @property
    def failing(self) -> bool:
        """Whether the last pass could not reach the store."""
        return self.before_outage is not None and self.back_at is None

    def seconds(self, now: float) -> float:
        """The grace for a pass starting at `now`."""
        if self.before_outage is None:
            return 0.0
        if self.back_at is not None and now >= self.back_at + self.lease:
            self.before_outage = self.back_at = None
            return 0.0
        return now - self.before_outage

    def failed(self) -> None:
        """A pass could not reach the store."""
        if self.before_outage is None:
            self.before_outage = self.last_good
        self.back_at = None

    def succeeded(self, now: float) -> None:
        """A pass that started at `now` went through."""
        self.last_good = now
        if self.before_outage is not None and self.back_at is None:
            self.back_at = now


class Reaper(bootsteps.StartStopStep):
    """The worker bootstep that runs `reap_once` on a timer thread."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, parent: object) -> None:
        settings = Settings.from_env()
        app = parent.app
        self.thread = threading.Thread(
            target=self.run, args=(app, settings), name="nnservice-reaper", daemon=True
        )
        self.thread.start()

    def run(self, app: object, settings: Settings) -> None:
        store = ModelStore.from_settings(settings)
        lease = lease_seconds(settings.visibility_timeout)
        interval = max(1.0, lease / 4)
        grace = OutageGrace(lease, time.monotonic())
        while not self.stopped.wait(interval):
            started = time.monotonic()
            try:
                reap_once(store, app, settings, grace.seconds(started))
            except Exception:  # noqa: BLE001 - the store or broker may be down: try again later
                if not grace.failing:
                    log.warning(
                        "reaper pass failed; trying again every %.0f s", interval, exc_info=True
                    )
                grace.failed()
            else:
                if grace.failing:
                    log.info("reaper pass went through again")
                grace.succeeded(started)

    def stop(self, parent: object) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
