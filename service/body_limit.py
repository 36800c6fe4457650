"""Request bodies: the size limit (NNSERVICE_MAX_BODY_BYTES) and the time limit for slow clients.

A request whose Content-Length is over the limit gets 413 before anything is read. Every other
body is read here, whole, before the app sees it: 413 when a chunked body goes past the limit,
408 when the next piece of it takes over `BODY_TIMEOUT_SECONDS` to arrive (under gunicorn's
gevent worker, whose connections are greenlets: a stalled client costs a few kilobytes, never a
thread, and is cut off). The app gets the body as if it had come with its Content-Length. Flask's
MAX_CONTENT_LENGTH would cover the first case only: for a chunked body Werkzeug reads at most that
many bytes and hands the view the body cut short, so an upload over the limit could be stored
truncated.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable

from flask import Flask
from gevent import Timeout, monkey

from service.api import error_body, too_large_error

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
#: Longest wait for the next piece of a request body once its headers have arrived.
BODY_TIMEOUT_SECONDS = 10.0
#: A body is read in pieces of this size, each within the timeout.
CHUNK_BYTES = 65536


class BodyTimeout(Exception):
    """The client sent no more of its body for `BODY_TIMEOUT_SECONDS`."""


class BodyLimitedApp:
    """WSGI middleware: the whole body read first, with a size limit and a time limit."""

    def __init__(self, app: WsgiApp, limit: int | None, timeout: float) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH")
        chunked = "HTTP_TRANSFER_ENCODING" in environ
        if length and not chunked:
            if not length.isdigit():
                return self.app(environ, start_response)  # Werkzeug ignores a bad length
            if self.limit is not None and int(length) > self.limit:
                return _answer(
                    start_response, "413 REQUEST ENTITY TOO LARGE", too_large_error(self.limit)
                )
            size = int(length)
        elif chunked and environ.get("wsgi.input_terminated"):
            size = self.limit + 1 if self.limit is not None else None
        else:
            return self.app(environ, start_response)  # no body
        try:
            body = self._read(environ["wsgi.input"], size)
        except BodyTimeout:
            message = f"the request body did not arrive within {self.timeout:g} s"
            payload = error_body(408, "Request Timeout", message, {"body": [message]})
            return _answer(start_response, "408 REQUEST TIMEOUT", payload)
        if self.limit is not None and len(body) > self.limit:
            return _answer(
                start_response, "413 REQUEST ENTITY TOO LARGE", too_large_error(self.limit)
            )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _read(self, stream: io.RawIOBase, size: int | None) -> bytes:
        """At most `size` bytes (all, if None), `CHUNK_BYTES` at a time; BodyTimeout if a chunk
        takes longer than the timeout. Only under gevent's monkey-patched sockets can a read be
        interrupted (the API's gunicorn); elsewhere (Flask's test client) no timeout applies."""
        timed = monkey.is_module_patched("socket")
        parts: list[bytes] = []
        left = size
        while left is None or left > 0:
            want = CHUNK_BYTES if left is None else min(left, CHUNK_BYTES)
            if timed:
                with Timeout(self.timeout, BodyTimeout):
                    part = stream.read(want)
            else:
                part = stream.read(want)
            if not part:
                break
            parts.append(part)
            if left is not None:
                left -= len(part)
        return b"".join(parts)


def _answer(start_response: Callable, status: str, payload: dict) -> Iterable[bytes]:
    """An error answer that also closes the connection (the rest of the body is not read)."""
    data = json.dumps(payload).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("Connection", "close"),
    ]
    start_response(status, headers)
    return [data]


def install_body_limit(app: Flask, limit: int | None) -> None:
    """Wrap the app in `BodyLimitedApp` (install it before `service.observability`, so that its
    413s and 408s get a request id and are counted)."""
    app.wsgi_app = BodyLimitedApp(app.wsgi_app, limit, BODY_TIMEOUT_SECONDS)
