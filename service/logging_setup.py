"""Request ids: one per request, returned in `X-Request-ID`, and in every line logged meanwhile.

A client's own `X-Request-ID` is kept when it is sane (1-128 characters: letters, digits and
`._:@/+=-`, so nothing can break a log line); otherwise a random 32-hex-digit id is made. The id is
bound into `nnservice.logs.LOG_CONTEXT` while the app handles the request (the WSGI middleware
in `service.observability`), so every line logged meanwhile, by any logger, carries `"request_id"`.
The lines themselves are JSON (`nnservice.logs`), set up by `nnservice api` for its processes.
"""

from __future__ import annotations

import os
import re
from contextvars import Token

from nnservice.logs import LOG_CONTEXT

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
#: The header as a WSGI environ key.
ENVIRON_HEADER = "HTTP_X_REQUEST_ID"


def request_id_from(header: str | None) -> str:
    """The client's id if it is sane, else a new random one."""
    if header is not None and SANE_REQUEST_ID.fullmatch(header):
        return header
    return os.urandom(16).hex()


def bind_request_id(request_id: str) -> Token:
    """Bind `request_id` for logging in this thread; returns the token to unbind it."""
    return LOG_CONTEXT.set({"request_id": request_id})


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    return LOG_CONTEXT.get().get("request_id")
