"""Everything the API adds for operators, installed by `create_app` in one call: a request id
for every request (`service.logging_setup`), request and prediction metrics (`service.metrics`)
and the store's figures for GET /metrics (`service.store_metrics`).

The per-request part is one `before_request` and one `after_request` hook, registered before any
other hook, that reach the request object once each: together they cost a few microseconds.
"""

from __future__ import annotations

from time import perf_counter

from flask import Flask, Response, request

from model_store.errors import StoreError
from nnservice.logs import LOG_CONTEXT
from service.blueprints.metrics import STORE_COLLECTOR
from service.context import Services
from service.logging_setup import (
    ENVIRON_HEADER,
    REQUEST_ID_HEADER,
    bind_request_id,
    request_id_from,
)
from service.metrics import record_request
from service.model_cache import NoModelYet
from service.store_metrics import JobFigures, StoreCollector

#: environ key of (start time, log context token, request id).
_STATE = "nnservice.request_state"


def install_observability(app: Flask, svc: Services) -> None:
    """Request ids and metrics hooks (call before registering other hooks); /metrics figures."""

    @app.before_request
    def _begin() -> None:
        environ = request._get_current_object().environ
        request_id = request_id_from(environ.get(ENVIRON_HEADER))
        environ[_STATE] = (perf_counter(), bind_request_id(request_id), request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        current = request._get_current_object()
        state = current.environ.pop(_STATE, None)
        if state is None:  # a hook before ours answered; the id is still owed
            response.headers[REQUEST_ID_HEADER] = request_id_from(None)
            return response
        start, token, request_id = state
        response.headers[REQUEST_ID_HEADER] = request_id
        rule = current.url_rule
        record_request(
            rule.rule if rule is not None else None,
            current.method,
            response.status_code,
            perf_counter() - start,
        )
        LOG_CONTEXT.reset(token)
        return response

    def served_model_id() -> str | None:
        try:
            return svc.models.latest().model_id
        except (NoModelYet, StoreError):
            return None

    app.extensions[STORE_COLLECTOR] = StoreCollector(JobFigures(svc.store), served_model_id)
