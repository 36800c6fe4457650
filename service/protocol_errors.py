"""Errors of the standard protocol endpoints (MLflow, Open Inference Protocol v2), in each
protocol's own body shape instead of nnservice's common one.

A view raises `ProtocolError(status, message)`; anything else HTTP-shaped that happens while
Flask handles a request to the blueprint (a body over the size limit, a missing API key) is
answered in the same shape, with the status and headers it had; so is a request under the
blueprint's URL prefix that matches no route (404) or not with its method (405).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

#: Renders (status, message, protocol error code or None) as a response.
Render = Callable[[int, str, str | None], Response]


class ProtocolError(Exception):
    """A refused protocol request: the HTTP status, a message for the client, and the
    protocol's own error code when it has one (MLflow's `INVALID_PARAMETER_VALUE`, ...)."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def render_http_error(error: HTTPException, render: Render) -> Response:
    """`error` rendered with `render`, keeping its status and headers (Allow, WWW-Authenticate)."""
    data = getattr(error, "data", None) or {}
    response = render(error.code or 500, data.get("message") or error.description or "", None)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if error.code == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def answer_errors_in_shape(blueprint: Blueprint, render: Render) -> None:
    """Render ProtocolError and HTTPException raised for `blueprint`'s endpoints with `render`,
    and the routing errors (404, 405) of any request under its `url_prefix`."""

    @blueprint.errorhandler(ProtocolError)
    def _protocol_error(error: ProtocolError) -> Response:
        return render(error.status, error.message, error.code)

    @blueprint.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        return render_http_error(error, render)

    prefix = blueprint.url_prefix
    if prefix:

        @blueprint.before_app_request
        def _unrouted() -> Response | None:
            error = request.routing_exception
            if error is None:  # routed (every request but a 404 or 405)
                return None
            under = request.path == prefix or request.path.startswith(prefix + "/")
            if under and isinstance(error, NotFound):
                message = f"no such endpoint: {request.method} {request.path:.200}"
                return render(404, message, None)
            if under and isinstance(error, MethodNotAllowed):
                return render_http_error(error, render)
            return None
