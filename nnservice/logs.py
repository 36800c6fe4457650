"""JSON log lines for every nnservice process: one JSON object per line, with context ids.

The worker binds a job id into `LOG_CONTEXT` while it runs a job, and the API registers a context
source that names the request being handled (`add_context_source`: it is asked only when a line
is logged, so a request that logs nothing pays nothing); `JsonFormatter` writes those ids into
every line logged meanwhile, whichever logger wrote it (ours, Flask's, Celery's, gunicorn's).
Standard library only, so that the API, the worker and the CLI can all use it.

A line looks like::

    {"time": "2026-11-25T08:00:00.123Z", "level": "INFO", "logger": "service.training",
     "message": "...", "process": 4242, "request_id": "..."}

Fields given with `logger.info(..., extra={"field": value})` are added as they are.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, TextIO

#: Where the API keeps a request's id in the WSGI environ (`service.logging_setup`), for the
#: access line gunicorn logs once the app is done (`nnservice.gunicorn_logging`).
ENVIRON_REQUEST_ID = "nnservice.request_id"

#: Ids that belong in every line logged while they are bound (request_id, job_id).
LOG_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar(
    "nnservice_log_context", default=MappingProxyType({})
)

#: Functions asked for more ids as each line is formatted (None: nothing to add).
_CONTEXT_SOURCES: list[Callable[[], Mapping[str, str] | None]] = []


def add_context_source(source: Callable[[], Mapping[str, str] | None]) -> None:
    """Have every line also carry the ids `source()` returns when the line is logged (once per
    source however often it is added)."""
    if source not in _CONTEXT_SOURCES:
        _CONTEXT_SOURCES.append(source)


#: Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


@contextmanager
def log_context(**ids: str) -> Iterator[None]:
    """Bind `ids` (e.g. job_id=...) to every line logged in this block, in this thread."""
    token = LOG_CONTEXT.set({**LOG_CONTEXT.get(), **ids})
    try:
        yield
    finally:
        LOG_CONTEXT.reset(token)


def _timestamp(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON: time (UTC), level, logger, message, process, ids."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        line.update(LOG_CONTEXT.get())
        for source in _CONTEXT_SOURCES:
            ids = source()
            if ids:
                line.update(ids)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def json_handler(stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (stderr by default) writing JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(level: str | int, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records, as JSON lines, through one handler on the root logger.

    Replaces the root logger's handlers (so nothing is written twice) and sets its level; returns
    the handler so callers can add filters to it.
    """
    root = logging.getLogger()
    handler = json_handler(stream)
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return handler
