"""The per-request savings: CachedSyncFlask answers as Flask does; /predict runs undecorated;
metrics are recorded in batches yet a scrape misses nothing; the model cache sees promotions
through the store's signal, without a stat per request."""

from __future__ import annotations

import functools
import time

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from model_store import ModelStore
from service import model_cache
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


def test_a_promotion_reaches_the_cache_through_the_signal_without_a_stat(
    app, store: ModelStore, saved_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's `promote` changes the shared token; the cache looks at LATEST only then
    (and once a RECHECK_SECONDS otherwise)."""
    first = saved_model()
    cache = services_of(app).models
    assert cache.latest().model_id == first
    stats: list[int] = []
    real = ModelStore.latest_version
    monkeypatch.setattr(
        ModelStore, "latest_version", lambda self: stats.append(1) or real(self)
    )  # fmt: skip
    for _ in range(100):
        assert cache.latest().model_id == first
    assert stats == []
    second = saved_model(flip=True)  # `store` is another handle, as a worker's would be
    assert cache.latest().model_id == second
    assert len(stats) == 1


def test_latest_changed_behind_the_stores_back_is_seen_within_the_recheck(
    app, store: ModelStore, saved_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = saved_model()
    second = saved_model(flip=True, promote=False)
    cache = services_of(app).models
    assert cache.latest().model_id == first
    (store.root / "models" / "LATEST").write_text(f"{second}\n")  # an operator's edit
    assert cache.latest().model_id == first  # no signal: not looked at yet
    clock = [time.monotonic()]
    monkeypatch.setattr(model_cache, "monotonic", lambda: clock[0])
    clock[0] += model_cache.RECHECK_SECONDS
    assert cache.latest().model_id == second


def test_without_a_readable_signal_every_request_looks_at_latest(
    app, store: ModelStore, saved_model
) -> None:
    first = saved_model()
    cache = services_of(app).models
    assert cache.latest().model_id == first
    (store.root / "models" / "PROMOTED").unlink()
    cache.store._models.signal._forget()  # as if mapping it had failed
    second = saved_model(flip=True, promote=False)
    (store.root / "models" / "LATEST").write_text(f"{second}\n")
    assert cache.latest().model_id == second


def test_a_replaced_signal_file_is_mapped_again_at_the_recheck(
    app, store: ModelStore, saved_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = saved_model()
    cache = services_of(app).models
    assert cache.latest().model_id == first
    (store.root / "models" / "PROMOTED").unlink()  # the cache still maps the old file
    second = saved_model(flip=True)  # promote creates a new PROMOTED
    clock = [time.monotonic()]
    monkeypatch.setattr(model_cache, "monotonic", lambda: clock[0])
    clock[0] += model_cache.RECHECK_SECONDS
    assert cache.latest().model_id == second  # the recheck stats LATEST and maps the new file
    stats: list[int] = []
    real = ModelStore.latest_version
    monkeypatch.setattr(
        ModelStore, "latest_version", lambda self: stats.append(1) or real(self)
    )  # fmt: skip
    third = saved_model()
    assert cache.latest().model_id == third  # through the new file's token
    assert len(stats) == 1
