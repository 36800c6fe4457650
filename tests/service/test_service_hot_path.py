"""A scrape misses no request; the model cache sees promotions through the store's signal,
without a stat per request."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from model_store import ModelStore
from service import model_cache
from service.context import EXTENSION


def services_of(app: Flask):
    return app.extensions[EXTENSION]


def _predict_count(page: str) -> float:
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == "nnservice_http_request_duration_seconds_count" and sample.labels == {
                "endpoint": "/predict", "method": "POST", "status": "200"
            }:  # fmt: skip
                return sample.value
    return 0.0


def test_a_scrape_includes_every_request_its_process_answered(client, saved_model) -> None:
    """Every request the process answered is in its scrape, once."""
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
