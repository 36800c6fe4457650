"""A scrape misses no request."""

from __future__ import annotations

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

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
