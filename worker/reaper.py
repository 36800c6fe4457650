"""The reaper: every worker repairs the store's jobs (and the chunks of batch predictions) now
and then, so no job or batch stays stuck.

A thread in each worker's main process (a Celery bootstep, started and stopped with the worker;
no extra service to run) calls `store.jobs.reap` every `interval` seconds: jobs whose
owner stopped renewing its lease are requeued (or failed after NNSERVICE_MAX_ATTEMPTS), and jobs
that sat queued longer than a lease since their task was sent have it sent again; running
sweeps are advanced (`worker.sweep_trials.check_sweeps`). Reapers in
many workers may run at once: every repair is a conditional update, so each happens once, and a
duplicate message is dropped by the worker that receives it.

While the database is down nobody can renew a lease, so every running job's heartbeat ages with
the outage. A reaper that could not reach the store therefore gives each owner a full lease after
it can again before it counts it lost (`worker.outage.OutageGrace`): a job that waited the
outage out keeps its lease and its attempt.

The same thread prunes the registry's old events every few minutes (`worker.event_retention`),
and deletes old batch predictions (`worker.batch_retention`).
"""

from __future__ import annotations

import logging
import threading

from celery import bootsteps

from foundation.settings import Settings
from model_store import ModelStore, StoreError
from worker.batch_retention import BatchSweeper
from worker.event_retention import EventPruner
from worker.names import BATCH_CHUNK_TASK, TRAIN_TASK, chunk_task_id
from worker.outage import OutageGrace
from worker.sweep_trials import check_sweeps
from worker.training_job import lease_seconds

log = logging.getLogger(__name__)


def reap_once(
    store: object, celery: object, settings: Settings, grace: OutageGrace | None = None
) -> list[str]:
    """One pass: repair what needs it and re-send tasks; returns the re-sent job ids.

    `grace` (the reaper's) learns whether the store answered, and says how much longer than a
    lease an owner may be silent after an outage before it counts as lost.
    """
    lease = lease_seconds(settings.visibility_timeout)
    extra = 0.0 if grace is None else grace.seconds(lease)
    try:
        repairs = store.jobs.reap(lease + extra, settings.max_attempts, resend_after=lease)
    except Exception:
        if grace is not None:
            grace.failed()
        raise
    if grace is not None:
        grace.succeeded()
    for job_id in repairs.requeued:
        log.warning("job %s lost its worker (no heartbeat for %.0f s): requeued", job_id, lease)
    for job_id in repairs.ended:
        log.warning("job %s ended by the reaper", job_id)
        try:
            store.checkpoints.delete(job_id)
        except (StoreError, OSError) as error:  # the object store is down: the sends go on
            log.warning("could not delete the checkpoint of job %s: %s", job_id, error)
    for job_id in repairs.resend:
        celery.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, task_id=job_id)
        log.info("job %s: task sent again", job_id)
    reap_batches(store, celery, settings, lease + extra, lease)
    check_sweeps(store, celery)
    return repairs.resend


def reap_batches(
    store: object, celery: object, settings: Settings, lease: float, resend_after: float
) -> list[tuple[str, int]]:
    """Repair the chunks of unfinished batch predictions as `reap_once` repairs jobs: requeue
    and re-send a chunk whose owner was lost (or fail its batch after NNSERVICE_MAX_ATTEMPTS),
    re-send one whose message looks lost; returns the (batch id, chunk) re-sent."""
    repairs = store.batches.reap(lease, settings.max_attempts, resend_after=resend_after)
    for batch_id in repairs.failed:
        log.warning("batch prediction %s failed: a chunk lost its worker too often", batch_id)
    for batch_id, chunk in repairs.resend:
        celery.send_task(
            BATCH_CHUNK_TASK,
            kwargs={"batch_id": batch_id, "chunk": chunk},
            task_id=chunk_task_id(batch_id, chunk),
        )
        log.info("batch prediction %s chunk %s: task sent again", batch_id, chunk)
    return repairs.resend


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
        grace = OutageGrace()
        pruner = EventPruner(settings.events_retention_seconds)
        sweeper = BatchSweeper(settings.batch_retention_seconds)
        failing = False
        while not self.stopped.wait(interval):
            try:
                reap_once(store, app, settings, grace)
                pruner.prune_if_due(store)
                sweeper.sweep_if_due(store)
            except Exception:  # noqa: BLE001 - the store or broker may be down: try again later
                if not failing:
                    log.warning(
                        "reaper pass failed; trying again every %.0f s", interval, exc_info=True
                    )
                failing = True
            else:
                if failing:
                    log.info("reaper pass went through again")
                failing = False

    def stop(self, parent: object) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
