"""gunicorn's logs as JSON lines: its own messages and one access line a request.

`JsonLogger` (gunicorn's `logger_class`) hands gunicorn's error and access loggers to the root
logger, which `foundation.logs.configure_logging` gives one JSON handler, so gunicorn, Flask and
nnservice lines come out alike. Access lines carry the request id the app returned in
`X-Request-ID`, read from the WSGI environ where the app keeps it (the app's own request context
is gone by the time gunicorn logs the request).
"""

from __future__ import annotations

import logging

from gunicorn.glogging import Logger

from foundation.logs import ENVIRON_REQUEST_ID, configure_logging


class JsonLogger(Logger):
    """gunicorn's logger writing through the root logger's JSON handler."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        configure_logging(self.loglevel)
        self.access_log.setLevel(self.loglevel)  # NNSERVICE_LOG_LEVEL=WARNING: no access lines
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True

    def access(self, resp, req, environ, request_time) -> None:
        """One line a request: method, path, status, duration, size, client, request id.

        Written for the app's answers and for the requests the server refuses itself
        (`nnservice.gunicorn_worker`), whose request may be unknown and whose response object
        is not gunicorn's: every field is read defensively, and this never raises."""
        if not self.access_log_enabled or not self.access_log.isEnabledFor(logging.INFO):
            return
        environ = environ if isinstance(environ, dict) else {}
        request_id = environ.get(ENVIRON_REQUEST_ID)
        fields = {
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": status_of(resp),
            "duration_ms": _milliseconds(request_time),
            "response_bytes": getattr(resp, "sent", None),
            "remote_addr": environ.get("REMOTE_ADDR"),
        }
        if request_id is not None:
            fields["request_id"] = request_id
        self.access_log.info(
            "%s %s %s",
            fields["method"] or "-",
            fields["path"] or "-",
            fields["status"],
            extra=fields,
        )


def status_of(resp: object) -> int | str | None:
    """The status code of any response object: its int `status_code`, else the number that
    starts its `status` line ("400 Bad Request"), else that line as it is."""
    code = getattr(resp, "status_code", None)
    if isinstance(code, int):
        return code
    status = getattr(resp, "status", None)
    if isinstance(status, int):
        return status
    if isinstance(status, str):
        first = status.split(" ", 1)[0]
        return int(first) if first.isdigit() else status
    return None


def _milliseconds(duration: object) -> float | None:
    """A timedelta in milliseconds (None for anything else)."""
    seconds = getattr(duration, "total_seconds", None)
    return round(seconds() * 1000, 3) if callable(seconds) else None
