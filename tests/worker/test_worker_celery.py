"""The train task through a real broker and a real worker process (the `stack` fixture).

Tasks are sent with Celery itself, as the API does, so no HTTP is involved; the job record in the
store is where the outcome shows. A pickled message is refused and never executed.
"""

from __future__ import annotations

import os
import pickle
import uuid
from pathlib import Path

import numpy as np
import pytest
from kombu import Connection, Exchange, Producer
from kombu.exceptions import OperationalError

from foundation.settings import Settings
from service.schemas.train import DEFAULT_HYPERPARAMETERS
from worker.celery_config import make_celery
from worker.names import TRAIN_TASK

SEED_PEOPLE = {"weight": [133, 160, 152, 120], "height": [65, 72, 70, 60], "label": [1, 0, 0, 1]}
EMILY, FRANK = (128, 63), (155, 68)


@pytest.fixture
def celery_app(stack):
    app = make_celery(Settings(redis_url=stack.redis_url, store_path=stack.store_path))
    yield app
    app.close()


def _new_job(stack, **hyperparameters: object) -> str:
    info, _ = stack.store.datasets.save("seed", **SEED_PEOPLE)
    job_id = uuid.uuid4().hex
    hp = {**DEFAULT_HYPERPARAMETERS, "seed": 0, **hyperparameters}
    stack.store.jobs.create({"id": job_id, "dataset_id": info.id, "hyperparameters": hp})
    return job_id


def test_a_train_task_sent_through_redis_trains_in_the_worker(stack, celery_app) -> None:
    job_id = _new_job(stack)

    celery_app.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, task_id=job_id)
    record = stack.wait_for_record(job_id, timeout=60)

    assert record.state == "succeeded", record.error
    assert record.attempts == 1
    model = stack.store.models.load(record.model_id)
    emily, frank = model.predict_proba(np.array([EMILY, FRANK], dtype=float))
    assert emily > 0.5 > frank


class _Tripwire:
    """Unpickling this creates the file at `path`: proof that a pickle payload ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_a_pickled_task_message_is_refused_and_never_runs(stack, celery_app, tmp_path) -> None:
    tripwire = tmp_path / "pickle-payload-ran"
    evil_id = uuid.uuid4().hex
    body = ((), {"job_id": _Tripwire(tripwire)}, {"callbacks": None, "errbacks": None})
    with Connection(stack.redis_url) as connection:
        producer = Producer(connection, exchange=Exchange("celery", type="direct"))
        producer.publish(
            pickle.dumps(body),
            routing_key="celery",
            content_type="application/x-python-serialize",
            content_encoding="binary",
            headers={"lang": "py", "task": TRAIN_TASK, "id": evil_id, "root_id": evil_id},
            declare=[],
        )
    # A good task sent after it is trained: the worker got past the pickled message.
    job_id = _new_job(stack, epochs=10)
    celery_app.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, task_id=job_id)
    assert stack.wait_for_record(job_id, timeout=60).state == "succeeded"

    assert not tripwire.exists()
    log = (stack.root / "worker.log").read_text()
    assert "Refusing to deserialize untrusted content of type pickle" in log


@pytest.mark.skipif(os.geteuid() != 0, reason="Celery warns about superusers only as root")
def test_a_worker_run_as_root_does_not_warn_about_it(stack) -> None:
    """JSON only: the superuser warning is moot, so a start as root (a container, CI) is quiet."""
    stack.ensure_running()
    log = (stack.root / "worker.log").read_text()
    assert " ready." in log
    assert "superuser privileges" not in log


def test_with_redis_down_sending_fails_at_once_and_works_again_when_it_is_back(
    stack, celery_app
) -> None:
    job_id = _new_job(stack, epochs=10)
    stack.stop_redis()
    try:
        with pytest.raises(OperationalError):
            celery_app.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, task_id=job_id)
    finally:
        stack.start_redis()

    # Neither this sender nor the worker was restarted.
    celery_app.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, task_id=job_id)
    assert stack.wait_for_record(job_id, timeout=90).state == "succeeded"
