"""Errors of the standard protocol endpoints (MLflow, Open Inference Protocol v2), in each
protocol's own body shape instead of nnservice's common one.

A view raises `ProtocolError(status, message)`; anything else HTTP-shaped that happens while
Flask handles a request to the blueprint (a body over the size limit, a missing API key) is
answered in the same shape, with the status and headers it had.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException


class ProtocolError(Exception):
    """A refused protocol request: the HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def answer_errors_in_shape(blueprint: Blueprint, render: Callable[[int, str], Response]) -> None:
    """Render ProtocolError and HTTPException raised for `blueprint`'s endpoints with `render`."""

    @blueprint.errorhandler(ProtocolError)
    def _protocol_error(error: ProtocolError) -> Response:
        return render(error.status, error.message)

    @blueprint.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        data = getattr(error, "data", None) or {}
        response = render(error.code or 500, data.get("message") or error.description or "")
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response
