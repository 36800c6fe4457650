"""Request bodies: the size limit (NNSERVICE_MAX_BODY_BYTES), the time limit for slow clients, and
their Content-Encoding.

A request whose Content-Length is over the limit gets 413 before anything is read. Every other body
is read here, whole, before the app sees it (into memory up to `SPOOL_BYTES`, beyond that into an
unnamed temporary file, so a large upload is never held in memory by this layer): 413 when a
chunked body goes past the limit, 408 when the next piece of it takes over `BODY_TIMEOUT_SECONDS`
to arrive (under gunicorn's gevent worker, whose connections are greenlets: a stalled client costs
a few kilobytes, never a thread, and is cut off). A body sent with `Content-Encoding: gzip` or
`deflate` is then decoded (`service.content_encoding`), the limit applying to the decoded size too
(413, after at most the limit's worth of output); a corrupt one is 400 naming the coding, an
unknown coding 415 (with `Accept-Encoding` naming the ones understood). The app gets the body as if
it had come plain, with its Content-Length. Flask's MAX_CONTENT_LENGTH would cover the first case
only: for a chunked body Werkzeug reads at most that many bytes and hands the view the body cut
short, so an upload over the limit could be stored truncated.

A refused body is answered by the app, not here (`refuse_bodies`), so that each endpoint answers
in its own error shape (the protocols' `{"error": ...}` and MLflow's included); the app sees an
empty body.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterable
from typing import IO

from flask import Flask, request
from gevent import Timeout, monkey

from foundation.errors import error_body
from service.api import abort, too_large_error
from service.content_encoding import (
    SUPPORTED,
    CorruptBody,
    DecodedTooLarge,
    UnsupportedEncoding,
    codings,
    decode,
)

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
#: Longest wait for the next piece of a request body once its headers have arrived.
BODY_TIMEOUT_SECONDS = 10.0
#: A body is read in pieces of this size, each within the timeout.
CHUNK_BYTES = 65536
#: A body larger than this waits for the app in an unnamed temporary file, not in memory.
SPOOL_BYTES = 1024 * 1024
#: Where a refused body's error waits for the app (`refuse_bodies`): (error body, headers).
REFUSED = "nnservice.refused_body"
#: The answer to a body that was not read to its end closes the connection.
CLOSE = {"Connection": "close"}


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
            size = int(length)
        elif chunked and environ.get("wsgi.input_terminated"):
            size = self.limit + 1 if self.limit is not None else None
        else:
            return self.app(environ, start_response)  # no body
        try:
            applied = codings(environ.get("HTTP_CONTENT_ENCODING"))
        except UnsupportedEncoding as exc:
            payload = error_body(
                415, "Unsupported Media Type", str(exc), {"Content-Encoding": [str(exc)]}
            )
            headers = {**CLOSE, "Accept-Encoding": ", ".join(SUPPORTED)}
            return self._refuse(environ, start_response, payload, headers)
        if not chunked and self.limit is not None and size is not None and size > self.limit:
            return self._refuse(environ, start_response, too_large_error(self.limit))
        try:
            body = self._read(environ["wsgi.input"], size)
        except BodyTimeout:
            message = f"the request body did not arrive within {self.timeout:g} s"
            payload = error_body(408, "Request Timeout", message, {"body": [message]})
            return self._refuse(environ, start_response, payload)
        if self.limit is not None and _size(body) > self.limit:
            body.close()
            return self._refuse(environ, start_response, too_large_error(self.limit))
        if applied:
            try:
                with body:
                    body = io.BytesIO(decode(body.read(), applied, self.limit))
            except DecodedTooLarge:
                return self._refuse(
                    environ, start_response, too_large_error(self.limit, decoded=True)
                )
            except CorruptBody as exc:
                payload = error_body(400, "Bad Request", str(exc), {"Content-Encoding": [str(exc)]})
                return self._refuse(environ, start_response, payload, {})
        environ.pop("HTTP_CONTENT_ENCODING", None)
        return self._with_body(environ, body, start_response)

    def _with_body(
        self, environ: dict, body: IO[bytes], start_response: Callable
    ) -> Iterable[bytes]:
        """The app, given `body` (a file read from its start) as a plain request body with its
        Content-Length; the file is closed once the app has answered (its view has run: no
        answer here reads the request's body while it streams)."""
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(_size(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        try:
            return self.app(environ, start_response)
        finally:
            body.close()

    def _refuse(
        self, environ: dict, start_response: Callable, payload: dict, headers: dict | None = None
    ) -> Iterable[bytes]:
        """Hand the app the request without its body, and the error to answer it with
        (`refuse_bodies`); unless `headers` says otherwise, the answer closes the connection,
        whose body may not have been read to its end."""
        environ[REFUSED] = (payload, CLOSE if headers is None else headers)
        environ.pop("HTTP_CONTENT_ENCODING", None)
        return self._with_body(environ, io.BytesIO(), start_response)

    def _read(self, stream: io.RawIOBase, size: int | None) -> IO[bytes]:
        """At most `size` bytes (all, if None), `CHUNK_BYTES` at a time, in a file positioned at
        its start: in memory up to `SPOOL_BYTES`, on disk beyond (an unnamed temporary file), so
        a large upload is never held in memory whole, let alone twice. BodyTimeout if a chunk
        takes longer than the timeout. Only under gevent's monkey-patched sockets can a read be
        interrupted (the API's gunicorn); elsewhere (Flask's test client) no timeout applies."""
        timed = monkey.is_module_patched("socket")
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned
        try:
            self._copy(stream, size, body, timed)
        except BaseException:
            body.close()
            raise
        body.seek(0)
        return body

    def _copy(self, stream: io.RawIOBase, size: int | None, body: IO[bytes], timed: bool) -> None:
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
            body.write(part)
            if left is not None:
                left -= len(part)


def _size(body: IO[bytes]) -> int:
    """The size of a body file positioned at its start."""
    size = body.seek(0, io.SEEK_END)
    body.seek(0)
    return size


def refuse_bodies() -> None:
    """Flask's first `before_request`: answer a body the middleware refused with its error,
    raised as an HTTP error so that the endpoint's error shape renders it."""
    refused = request.environ.get(REFUSED)
    if refused is not None:
        payload, headers = refused
        abort(
            payload["code"], message=payload["message"], errors=payload["errors"], headers=headers
        )


def install_body_limit(app: Flask, limit: int | None) -> None:
    """Wrap the app in `BodyLimitedApp` (install it before `service.observability`, so that its
    413s and 408s get a request id and are counted), and answer the bodies it refuses first."""
    app.wsgi_app = BodyLimitedApp(app.wsgi_app, limit, BODY_TIMEOUT_SECONDS)
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_bodies)
