"""JSON log lines for every nnservice process: one JSON object per line, with context ids.

python-json-logger writes the lines; this module picks their fields and adds the ids. The worker
binds a job id into `LOG_CONTEXT` while it runs a job, and the API registers a context source
that names the request being handled (`add_context_source`: it is asked only when a line is
logged, so a request that logs nothing pays nothing); `JsonFormatter` writes those ids into every
line logged meanwhile, whichever logger wrote it (ours, Flask's, Celery's, gunicorn's).

A line looks like::

    {"time": "2026-11-25T08:00:00.123Z", "level": "INFO", "logger": "service.training",
     "message": "...", "process": 4242, "request_id": "..."}

Fields given with `logger.info(..., extra={"field": value})` are added as they are (and win over
a bound id of the same name); a traceback is `exception`, a stack `stack`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, TextIO

from pythonjsonlogger import json as jsonlogger

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


class JsonFormatter(jsonlogger.JsonFormatter):
    """python-json-logger's formatter with our field names, UTC times and the bound ids."""

    # logging.Formatter's time hooks: asctime as UTC ISO 8601 with milliseconds and a Z.
    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(self) -> None:
        super().__init__(
            ["asctime", "levelname", "name", "message", "process"],
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "exc_info": "exception",
                "stack_info": "stack",
            },
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """The library's fields, then the bound ids (a field given with `extra=` wins)."""
        super().add_fields(log_data, record, message_dict)
        ids = dict(LOG_CONTEXT.get())
        for source in _CONTEXT_SOURCES:
            ids.update(source() or {})
        for key, value in ids.items():
            log_data.setdefault(key, value)


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
