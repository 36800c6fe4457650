"""The Celery task: a thin wrapper that runs one training job by id.

Everything the job needs is in its row in the store (written by the API before sending), so the
message carries only `job_id`. The task id is the job id.
"""

from __future__ import annotations

import functools
import os

from celery.exceptions import Reject

from foundation.settings import Settings
from model_store import ModelStore
from worker import shutdown
from worker.celery_app import app
from worker.names import TRAIN_TASK
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
