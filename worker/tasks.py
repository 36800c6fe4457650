"""The Celery task: a thin wrapper that runs one training job by id.

Everything the job needs is in its record in the store (written by the API before sending), so the
message carries only `job_id`. The task id is the job id.
"""

from __future__ import annotations

from celery.exceptions import Reject

from model_store import ModelStore
from nnservice.config import Settings
from worker import shutdown
from worker.celery_app import app
from worker.names import TRAIN_TASK
from worker.training_job import TrainingInterrupted, run_training_job


@app.task(name=TRAIN_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def train(job_id: str) -> str:
    """Train job `job_id`; on a graceful shutdown, put the message back on the queue."""
    settings = Settings.from_env()
    store = ModelStore(settings.store_path)
    try:
        with shutdown.job_running():
            return run_training_job(store, job_id, settings, stop_requested=shutdown.requested)
    except TrainingInterrupted:
        raise Reject("worker shutting down; job checkpointed and requeued", requeue=True) from None
