"""Starting, cancelling and purging training jobs: the work behind POST /train,
POST /jobs/{id}/cancel and DELETE /jobs/{id}.

The API writes the complete job record first and then sends only its id to Celery
(`send_task(TRAIN_TASK, kwargs={"job_id": id}, task_id=id)`), so the worker needs nothing else
and a record exists for every task. If the broker cannot take the task, the record is deleted
again and the client gets 503.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from foundation.hyperparameters import draw_seed
from foundation.states import TERMINAL_STATES, JobState
from model_store import JobRecord
from model_store.errors import CorruptSnapshot, NotFound
from model_store.ids import utc_now_iso
from service.api import abort, abort_unknown_reference
from service.context import Services
from service.schemas.train import DEFAULT_HYPERPARAMETERS
from worker.names import TRAIN_TASK

log = logging.getLogger(__name__)


def warm_task_publishing(svc: Services) -> None:
    """Do now what the first `send_task` of this process would otherwise do while a client waits
    (about 50 ms): load Celery's result-backend setting and message machinery, connect to the
    broker and declare the task queue (idempotent: the worker declares the same queue).

    A broker that cannot be reached is not an error here: the first POST /train reports it (503).
    """
    celery = svc.celery
    celery.backend  # noqa: B018 - resolved lazily (an entry-point scan) on the first send
    try:
        with celery.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=0)
            producer.maybe_declare(celery.amqp.queues[celery.conf.task_default_queue])
    except Exception as exc:  # noqa: BLE001 - any failure only means "not warmed"
        log.info("task queue not reached at start (the first POST /train will retry): %s", exc)


def _dataset_rows(svc: Services, data: dict) -> tuple[str, int]:
    """(dataset id, row count) of the request's dataset, storing inline rows first."""
    if "columns" in data:
        columns = data["columns"]
        info, _ = svc.store.datasets.save("inline", columns.weight, columns.height, columns.label)
        return info.id, info.rows
    dataset_id = data["dataset_id"]
    try:
        info = svc.store.datasets.get(dataset_id)
    except NotFound:
        abort_unknown_reference("dataset_id", "dataset", dataset_id, " Upload it: POST /datasets.")
    return info.id, info.rows


def _hidden_layers_of(svc: Services, model_id: str) -> list[int]:
    """The hidden layer sizes of the model training continues from (404/409 naming the field)."""
    try:
        snapshot = svc.store.models.snapshot(model_id)
    except NotFound:
        abort_unknown_reference("initial_model_id", "model", model_id)
    except CorruptSnapshot as exc:
        abort(409, message=str(exc), errors={"initial_model_id": [str(exc)]})
    return list(snapshot["layer_sizes"][1:-1])


def resolve_hyperparameters(svc: Services, data: dict, rows: int) -> dict[str, Any]:
    """Defaults filled in, a seed drawn if none was given, architecture and budget checked."""
    given = data["hyperparameters"]
    hyperparameters = {**DEFAULT_HYPERPARAMETERS, **given}
    if data["initial_model_id"] is not None:
        layers = _hidden_layers_of(svc, data["initial_model_id"])
        if "hidden_layers" not in given:
            hyperparameters["hidden_layers"] = layers
        elif given["hidden_layers"] != layers:
            abort(
                422,
                message="hidden_layers differ from the initial model's",
                errors={
                    "hyperparameters": {
                        "hidden_layers": [f"The initial model has hidden layers {layers}."]
                    }
                },
            )
    if hyperparameters["seed"] is None:
        hyperparameters["seed"] = draw_seed()
    steps = hyperparameters["epochs"] * rows
    budget = svc.settings.job_budget
    if steps > budget:
        allowed = max(budget // rows, 0)
        abort(
            422,
            message="the job exceeds the training budget",
            errors={
                "hyperparameters": {
                    "epochs": [
                        f"epochs x rows = {steps} exceeds the job budget of {budget} "
                        f"sample-steps; at most {allowed} epochs for {rows} rows."
                    ]
                }
            },
        )
    return hyperparameters


def submit_training(svc: Services, data: dict) -> JobRecord:
    """Create the job record and queue its task; returns the record (state "queued")."""
    dataset_id, rows = _dataset_rows(svc, data)
    hyperparameters = resolve_hyperparameters(svc, data, rows)
    job_id = uuid.uuid4().hex
    record = svc.store.jobs.create(
        {
            "id": job_id,
            "dataset_id": dataset_id,
            "hyperparameters": hyperparameters,
            "initial_model_id": data["initial_model_id"],
            "promote": data["promote"],
            "promote_alias": data["promote_alias"],
        }
    )
    try:
        svc.celery.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, task_id=job_id)
    except Exception as exc:  # whatever stopped the publish, the job cannot run: undo it
        log.warning("could not queue job %s: %s", job_id, exc)
        svc.store.delete_job(job_id)
        abort(
            503,
            message=f"the task queue (Redis) is unreachable, the job was not created: {exc}",
            errors={"broker": [str(exc)]},
        )
    return record


def _revoke(svc: Services, job_id: str) -> None:
    """Best effort: the worker also checks the record's state before it trains.

    The connection is checked first with a single attempt: Celery's broadcast would otherwise
    wait for a broker that is down for as long as it stays down, and the request with it.
    """
    try:
        with svc.celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_max=0.2)
            svc.celery.control.revoke(job_id, connection=connection)
    except Exception as exc:  # the broker may be down; the record already says cancelled
        log.warning("could not revoke task %s: %s", job_id, exc)


def cancel_job(svc: Services, job_id: str) -> tuple[JobRecord, int]:
    """Cancel a queued job at once (200) or ask a running one to stop (202); 409 if finished."""
    svc.store.jobs.get(job_id)
    cancelled = svc.store.jobs.transition(
        job_id, (JobState.QUEUED,), state=JobState.CANCELLED, finished_at=utc_now_iso()
    )
    if cancelled is not None:
        _revoke(svc, job_id)
        return cancelled, 200
    record = svc.store.jobs.request_cancel(job_id)
    if record.state not in TERMINAL_STATES:
        return record, 202
    abort(
        409,
        message=f"job {job_id} has already finished ({record.state})",
        errors={
            "state": [f"Only queued or running jobs can be cancelled; this one is {record.state}."]
        },
    )


def purge_job(svc: Services, job_id: str) -> None:
    """Remove a finished job's record and checkpoint; 409 (naming its state) if unfinished."""
    state = svc.store.purge_job(job_id)
    if state is None:
        return
    abort(
        409,
        message=f"job {job_id} has not finished ({state}); cancel it first",
        errors={"state": [f"Only finished jobs can be purged; this one is {state}."]},
    )
