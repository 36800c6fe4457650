"""Request ids: one per request, returned in `X-Request-ID`, and in every line logged meanwhile.

A client's own `X-Request-ID` is kept when it is sane (1-128 characters: letters, digits and
`._:@/+=-`, so nothing can break a log line); otherwise a 32-hex-digit id is made: 16 random
digits drawn once per process (again in a forked child) and a 16-digit count of the ids that
process made, so ids never repeat and making one needs no system call (`os.urandom` per request
was one).

The WSGI middleware in `service.observability` puts the id in the request's environ
(`ENVIRON_REQUEST_ID`); `request_ids` is a context source of `foundation.logs`, so every line
logged while Flask handles the request, by any logger, carries `"request_id"`: the id is looked
up when a line is logged, not bound and unbound on every request.
The lines themselves are JSON (`foundation.logs`), set up by `nnservice api` for its processes.
"""

from __future__ import annotations

import itertools
import os
import re

from flask import has_request_context, request

from foundation.logs import ENVIRON_REQUEST_ID

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
#: The header as a WSGI environ key.
ENVIRON_HEADER = "HTTP_X_REQUEST_ID"

_process_prefix = ""
_made = itertools.count()


def _new_process() -> None:
    """Draw this process's prefix and restart its count (at import, and in every forked child)."""
    global _process_prefix, _made
    _process_prefix = os.urandom(8).hex()
    _made = itertools.count()


_new_process()
os.register_at_fork(after_in_child=_new_process)


def request_id_from(header: str | None) -> str:
    """The client's id if it is sane, else a new one."""
    if header is not None and SANE_REQUEST_ID.fullmatch(header):
        return header
    return f"{_process_prefix}{next(_made):016x}"


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside a request."""
    if not has_request_context():
        return None
    return request.environ.get(ENVIRON_REQUEST_ID)


def request_ids() -> dict[str, str] | None:
    """`foundation.logs` context source: {"request_id": ...} while a request is handled."""
    request_id = current_request_id()
    return None if request_id is None else {"request_id": request_id}
