"""The API's Flask app in the benchmark's own process: requests timed without HTTP around them.

`wsgi_seconds` calls the WSGI app directly with a prebuilt environ (no socket, no test-client
bookkeeping), so its time is what the app itself spends on a request: routing, parsing,
validation, the model, building the response body.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from werkzeug.test import EnvironBuilder

from foundation.settings import Settings
from model_store.schema import upgrade
from service import create_app


def service_app(store_path: Path) -> Flask:
    """The real app on `store_path`, its database migrated first (its broker URL is never used by
    /predict)."""
    settings = Settings(store_path=store_path, redis_url="redis://127.0.0.1:1/0")
    upgrade(settings.store_database_url)
    return create_app(settings)


def wsgi_request(app: Callable, path: str, body: bytes) -> Callable[[], tuple[str, bytes]]:
    """A function that POSTs `body` (JSON) to `path` through `app` and returns (status, body)."""
    template = EnvironBuilder(
        path=path, method="POST", data=body, content_type="application/json"
    ).get_environ()

    def call() -> tuple[str, bytes]:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[str] = []
        result = app(environ, lambda code, headers, exc_info=None: status.append(code))
        try:
            data = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        return status[0], data

    return call


def wsgi_seconds(call: Callable[[], object], number: int, repeat: int) -> float:
    """Median over `repeat` rounds of the mean time of one call (rounds of `number` calls)."""
    call()  # warm caches (model load, imports) before timing
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            call()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)
