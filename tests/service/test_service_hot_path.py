"""The per-request savings: CachedSyncFlask answers as Flask does; /predict runs undecorated;
metrics are recorded in batches yet a scrape misses nothing; the model cache sees promotions
through the store's signal, without a stat per request."""

from __future__ import annotations

import functools

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from service.cached_flask import CachedSyncFlask
from service.context import EXTENSION


def services_of(app: Flask):
    return app.extensions[EXTENSION]


def view() -> str:
    return "ok"


async def coroutine_view() -> str:
    return "ok"


def test_plain_functions_are_looked_up_once_and_served(monkeypatch: pytest.MonkeyPatch) -> None:
    app = CachedSyncFlask(__name__)
    app.add_url_rule("/", view_func=view)
    asked: list[object] = []
    real = Flask.ensure_sync

    def counting(self: Flask, func):
        asked.append(func)
        return real(self, func)

    monkeypatch.setattr(Flask, "ensure_sync", counting)
    client = app.test_client()
    assert [client.get("/").text for _ in range(3)] == ["ok"] * 3
    assert asked.count(view) == 1
    assert app.ensure_sync(view) is view


def _outcome(app: Flask, func) -> str:
    try:
        return type(app.ensure_sync(func)).__name__
    except RuntimeError as error:  # Flask without its async extra
        return str(error)


def test_other_callables_and_coroutines_answer_as_in_flask() -> None:
    app = CachedSyncFlask(__name__)
    partial = functools.partial(view)
    assert app.ensure_sync(partial) is partial
    assert _outcome(app, coroutine_view) == _outcome(Flask(__name__), coroutine_view)
    assert _outcome(app, coroutine_view) == _outcome(Flask(__name__), coroutine_view)


def test_predict_is_served_without_its_documentation_wrappers(app) -> None:
    import inspect

    from service.blueprints import predict

    served = app.view_functions["predict.predict"]
    assert served is inspect.unwrap(predict.predict) and served is not predict.predict
    assert served.__module__ == "service.blueprints.predict"
    responses = app.test_client().get("/openapi.json").get_json()["paths"]["/predict"]["post"]
    assert {"200", "404", "409", "422"} <= set(responses["responses"])


def _predict_count(page: str) -> float:
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "nnservice_http_request_duration_seconds_count" and sample.labels == {
                "endpoint": "/predict", "method": "POST", "status": "200"
            }:  # fmt: skip
                return sample.value
    return 0.0


def test_a_scrape_includes_every_request_its_process_answered(client, saved_model) -> None:
    """Requests are recorded in batches; the process answering GET /metrics flushes its own
    first, so nothing it answered is missing (or counted twice)."""
    saved_model()
    before = _predict_count(client.get("/metrics").text)
    for _ in range(5):
        assert client.post("/predict", json={"weight": 128, "height": 63}).status_code == 200
    assert _predict_count(client.get("/metrics").text) - before == 5
    assert _predict_count(client.get("/metrics").text) - before == 5
