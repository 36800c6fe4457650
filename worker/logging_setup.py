"""The worker's logs as JSON lines, with the job id in every line about a job.

Celery calls `setup_logging` receivers instead of configuring logging itself: every process of
the worker (main process and pool children, which inherit it) then writes through one JSON
handler (`foundation.logs`). While a training task runs, its job id (the task id) is bound into
the log context, so whatever logs meanwhile (the training job, Celery's task tracer, numba)
carries `"job_id"`; the main process's own lines about a training task ("received", a lost
worker, ...) get it from the task id in the message's arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import Token

from celery import signals
from kombu.utils.url import maybe_sanitize_url

from foundation.logs import LOG_CONTEXT, configure_logging
from worker.names import TRAIN_TASK

_tokens: dict[str, Token] = {}


class TaskIdFilter(logging.Filter):
    """Adds `job_id` to Celery's own lines about a training task (the task id is the job id)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "job_id" in LOG_CONTEXT.get() or hasattr(record, "job_id"):
            return True
        args = record.args
        if isinstance(args, Mapping) and args.get("name") == TRAIN_TASK and args.get("id"):
            record.job_id = args["id"]
        elif isinstance(args, tuple) and len(args) >= 2 and args[0] == TRAIN_TASK:
            record.job_id = str(args[1])
        return True


@signals.setup_logging.connect
def _json_logging(loglevel: int | str | None = None, **_: object) -> None:
    """Replace Celery's log set-up: JSON lines on stderr at the worker's --loglevel."""
    handler = configure_logging(loglevel or logging.INFO)
    handler.addFilter(TaskIdFilter())


@signals.task_prerun.connect
def _bind_job_id(task_id: str | None = None, task=None, **_: object) -> None:
    if task_id and getattr(task, "name", None) == TRAIN_TASK:
        _tokens[task_id] = LOG_CONTEXT.set({**LOG_CONTEXT.get(), "job_id": task_id})


@signals.task_postrun.connect
def _unbind_job_id(task_id: str | None = None, **_: object) -> None:
    token = _tokens.pop(task_id or "", None)
    if token is not None:
        LOG_CONTEXT.reset(token)


@signals.worker_ready.connect
def _announce(sender=None, **_: object) -> None:
    """What Celery's banner says (the banner is off: it is not JSON), as one line."""
    controller = getattr(sender, "controller", None)
    logging.getLogger(__name__).info(
        "worker %s started: concurrency %s, broker %s",
        getattr(controller, "hostname", "?"),
        getattr(controller, "concurrency", "?"),
        maybe_sanitize_url(sender.app.conf.broker_url) if sender is not None else "?",
    )
