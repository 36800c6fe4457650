"""Everything the API adds for operators, installed by `create_app` in one call: a request id
for every request (`service.logging_setup`), request and prediction metrics (`service.metrics`)
and the store's figures for GET /metrics (`service.store_metrics`).

The per-request part is a thin WSGI middleware around the Flask app (cheaper than Flask hooks:
no context-local lookups): it puts the request id in the environ, where log lines find it
(`service.logging_setup.request_ids`), adds `X-Request-ID` to the response headers, and records
the request's URL rule, method, status and duration when the app starts the response (the
request context is still there to name the rule). It costs a few microseconds a request
(bench/bench_observability.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from flask import Flask

from foundation.logs import add_context_source
from model_store.errors import StoreError
from service.blueprints.metrics import STORE_COLLECTOR
from service.context import Services
from service.logging_setup import (
    ENVIRON_HEADER,
    ENVIRON_REQUEST_ID,
    REQUEST_ID_HEADER,
    request_id_from,
    request_ids,
)
from service.metrics import record_request
from service.model_cache import NoModelYet
from service.store_metrics import JobFigures, StoreCollector
from service.store_outages import StoreUnreachable

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


class ObservedApp:
    """WSGI middleware: request id (logs and response header) and request metrics."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = perf_counter()
        request_id = environ[ENVIRON_REQUEST_ID] = request_id_from(environ.get(ENVIRON_HEADER))

        def start_observed(status: str, headers: list, exc_info: Any = None) -> Callable:
            if exc_info is None:
                headers.append((REQUEST_ID_HEADER, request_id))
                request = environ.get("werkzeug.request")  # Flask's, until the app returns
                rule = getattr(request, "url_rule", None)
                record_request(
                    rule.rule if rule is not None else None,
                    environ.get("REQUEST_METHOD", ""),
                    int(status[:3]),
                    perf_counter() - started,
                )
            return start_response(status, headers, exc_info)

        return self.app(environ, start_observed)


def install_observability(app: Flask, svc: Services) -> None:
    """Wrap the app in `ObservedApp`, and give GET /metrics the store's figures."""
    app.wsgi_app = ObservedApp(app.wsgi_app)
    add_context_source(request_ids)

    def served_model_id() -> str | None:
        try:
            return svc.models.latest().model_id
        except (NoModelYet, StoreError, StoreUnreachable):
            return None

    app.extensions[STORE_COLLECTOR] = StoreCollector(JobFigures(svc.store), served_model_id)
