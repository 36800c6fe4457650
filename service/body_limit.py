"""The body size limit for requests that do not say how long they are (chunked uploads).

Flask refuses a Content-Length over MAX_CONTENT_LENGTH (413) before reading anything. A chunked
body has no length: Werkzeug then reads at most MAX_CONTENT_LENGTH bytes and hands the view the
body cut short, without an error, so an upload over the limit could be stored truncated.
`BodyLimitedApp` reads such bodies up front and answers 413 when the client had more to send;
a body within the limit is handed on as if it had come with its Content-Length.

It is WSGI middleware rather than a Flask `before_request` hook: nearly every request has a
Content-Length and no Transfer-Encoding, and is then let through after two dictionary looks in
the environ, with no context-local lookup and no hook for Flask to run.
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
        if "CONTENT_LENGTH" in environ and "HTTP_TRANSFER_ENCODING" not in environ:
            return self.app(environ, start_response)  # Flask itself enforces the limit
        if self.limit is None or not environ.get("wsgi.input_terminated"):
            return self.app(environ, start_response)  # Werkzeug gives the view no body then
        body = _read_at_most(environ["wsgi.input"], self.limit + 1)
        if len(body) > self.limit:
            payload = json.dumps(too_large_error(self.limit)).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
            start_response(_STATUS, headers)
            return [payload]
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


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


def install_body_limit(app: Flask) -> None:
    """Wrap the app in `BodyLimitedApp` with app.config["MAX_CONTENT_LENGTH"] (install it before
    `service.observability`, so that its 413s get a request id and are counted)."""
    app.wsgi_app = BodyLimitedApp(app.wsgi_app, app.config.get("MAX_CONTENT_LENGTH"))
