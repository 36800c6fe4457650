"""The API's error body, defined once: `{"code", "status", "message", "errors"}`.

Every error the API answers has this shape, whether the Flask app answers it (`service.api`) or
the HTTP server refuses the request before the app sees it (`nnservice.gunicorn_worker`: a bad
request line, a bad header, headers or a request line over gunicorn's limits, a timeout).
"""

from __future__ import annotations


def error_body(code: int, status: str, message: str, errors: dict | None = None) -> dict:
    """The error payload: the HTTP status code and its reason phrase, one line saying what went
    wrong, and the fields at fault (field name -> messages; empty when no field is)."""
    return {"code": code, "status": status, "message": message, "errors": errors or {}}
