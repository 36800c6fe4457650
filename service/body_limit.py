"""The body size limit for requests that do not say how long they are (chunked uploads).

Flask refuses a Content-Length over MAX_CONTENT_LENGTH (413) before reading anything. A chunked
body has no length: Werkzeug then reads at most MAX_CONTENT_LENGTH bytes and hands the view the
body cut short, without an error, so an upload over the limit could be stored truncated. This
reads such bodies up front and answers 413 when the client had more to send.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge


def refuse_truncated_body() -> None:
    """before_request: 413 for a body without Content-Length that goes past the limit.

    Runs on every request: one with a Content-Length and no Transfer-Encoding (nearly all of
    them; Werkzeug then reads that length) is let through after two dictionary looks.
    """
    environ = request.environ
    if "CONTENT_LENGTH" in environ and "HTTP_TRANSFER_ENCODING" not in environ:
        return  # `request.content_length` is set: Flask itself enforces the limit
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None or request.content_length is not None:
        return
    if not request.environ.get("wsgi.input_terminated"):
        return  # Werkzeug gives the view an empty body then: nothing is cut short
    body = request.get_data(cache=True)  # what the view will see
    if len(body) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def install_body_limit(app: Flask) -> None:
    """Register `refuse_truncated_body` (the limit itself is app.config["MAX_CONTENT_LENGTH"])."""
    app.before_request(refuse_truncated_body)
