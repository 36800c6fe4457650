"""The Celery tasks: thin wrappers that run one training job, or score one chunk of a batch.

Everything the work needs is in its rows in the store (written by the API before sending), so a
message carries only ids: `job_id` (the task id is the job id), or `batch_id` and `chunk`.
Both acknowledge late: a worker lost mid-task leaves its message to be delivered again.
"""

from __future__ import annotations

import functools
import os

from celery.exceptions import Reject

from foundation.settings import Settings
from model_store import ModelStore
from worker import shutdown
from worker.batch_scoring import score_chunk
from worker.celery_app import app
from worker.names import BATCH_CHUNK_TASK, TRAIN_TASK
from worker.sweep_trials import after_trial
from worker.training_job import TrainingInterrupted, run_training_job


@functools.cache
def _process_store(pid: int) -> tuple[Settings, ModelStore]:
    """This process's settings and store (one engine per process; `pid` keys forked copies)."""
    settings = Settings.from_env()
    return settings, ModelStore.from_settings(settings)


@app.task(name=TRAIN_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def train(job_id: str) -> str:
    """Train job `job_id`; on a graceful shutdown, put the message back on the queue."""
    settings, store = _process_store(os.getpid())
    try:
        with shutdown.job_running():
            outcome = run_training_job(store, job_id, settings, stop_requested=shutdown.requested)
    except TrainingInterrupted:
        raise Reject("worker shutting down; job checkpointed and requeued", requeue=True) from None
    after_trial(store, app, job_id, outcome)
    return outcome


@app.task(name=BATCH_CHUNK_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def batch_chunk(batch_id: str, chunk: int) -> str:
    """Score chunk `chunk` of batch `batch_id` (a few seconds at most: no checkpoint needed; a
    warm shutdown lets it finish rather than leave it to the reaper)."""
    settings, store = _process_store(os.getpid())
    with shutdown.job_running():
        return score_chunk(store, batch_id, chunk, settings)
