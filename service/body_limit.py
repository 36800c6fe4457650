"""The request body size limit (NNSERVICE_MAX_BODY_BYTES), for bodies with and without a length.

A request whose Content-Length is over the limit gets 413 before anything is read. A chunked
body has no length: it is read up front, 413 when the client had more to send than the limit,
and otherwise handed on as if it had come with its Content-Length. (Flask's MAX_CONTENT_LENGTH
would cover the first case only: for a chunked body Werkzeug reads at most that many bytes and
hands the view the body cut short, without an error, so an upload over the limit could be stored
truncated.)

It is WSGI middleware rather than Flask's setting plus a `before_request` hook: nearly every
request has a Content-Length and no Transfer-Encoding, and is let through after two dictionary
looks and an integer comparison, with no hook for Flask to run, no context-local lookup, and no
extra stream wrapper around the body (with MAX_CONTENT_LENGTH set, Werkzeug wraps every body
gunicorn hands it in one more limited stream; bench/README.md has the cost under load).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable

from flask import Flask

from service.api import too_large_error

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
_STATUS = "413 REQUEST ENTITY TOO LARGE"


class BodyLimitedApp:
    """WSGI middleware: 413 for a body without Content-Length that goes past `limit` bytes."""

    def __init__(self, app: WsgiApp, limit: int | None) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH")
        if length and "HTTP_TRANSFER_ENCODING" not in environ:
            if self.limit is not None and length.isdigit() and int(length) > self.limit:
                return self._too_large(start_response)
            return self.app(environ, start_response)  # Werkzeug reads at most `length` bytes
        if self.limit is None or not environ.get("wsgi.input_terminated"):
            return self.app(environ, start_response)  # Werkzeug gives the view no body then
        body = _read_at_most(environ["wsgi.input"], self.limit + 1)
        if len(body) > self.limit:
            return self._too_large(start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _too_large(self, start_response: Callable) -> Iterable[bytes]:
        payload = json.dumps(too_large_error(self.limit)).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        start_response(_STATUS, headers)
        return [payload]


def _read_at_most(stream: io.RawIOBase, size: int) -> bytes:
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def install_body_limit(app: Flask, limit: int) -> None:
    """Wrap the app in `BodyLimitedApp` (install it before `service.observability`, so that its
    413s get a request id and are counted)."""
    app.wsgi_app = BodyLimitedApp(app.wsgi_app, limit)
