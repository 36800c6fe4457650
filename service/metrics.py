"""Prometheus metrics recorded while serving: requests, their latency, predictions by label.

Each request adds one observation to a latency histogram (`record_request`, called by the
middleware in `service.observability`) under the Flask URL rule (so `/models/<id:model_id>`, not
one series per id), the method and the status; the histogram's `_count` is the request count.
Each predicted row adds one to its label's counter.

`nnservice api` runs several gunicorn processes; it sets prometheus-client's
`PROMETHEUS_MULTIPROC_DIR` before any of them starts (see `nnservice.gunicorn_conf`), so every
process records into files there and a scrape, whichever process answers it, adds them all up.
Without that variable (tests, a single process) the values live in this process's memory.
The figures read from the store at scrape time are in `service.store_metrics`.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from flask import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

from neural.decision import THRESHOLD, decide

#: prometheus-client's own variable: set, every process records into files in that directory.
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: Endpoint label of requests that matched no route (404s, 405s).
UNMATCHED = "unmatched"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Seconds; a single-row /predict takes a fraction of a millisecond, a large upload seconds.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

#: Our metrics only (not the library's default registry with its process collectors).
RECORDED = CollectorRegistry(auto_describe=False)
LATENCY_NAME = "nnservice_http_request_duration_seconds"
LATENCY = Histogram(
    LATENCY_NAME,
    "HTTP requests answered, by endpoint (the URL rule), method and status, and how long each "
    "took from the start of handling to the response headers (its _count counts the requests).",
    ["endpoint", "method", "status"],
    buckets=LATENCY_BUCKETS,
    registry=RECORDED,
)
PREDICTIONS = Counter(
    "nnservice_predictions",
    f"Rows predicted (all protocols), by predicted label: F (probability >= {THRESHOLD:g}) or M.",
    ["gender"],
    registry=RECORDED,
)


MODEL_PREDICTIONS = Counter(
    "nnservice_model_predictions",
    "Rows predicted (all protocols), by the model that answered and the alias the request "
    'used ("" when it named a model_id).',
    ["model_id", "alias"],
    registry=RECORDED,
)


#: The counter's two series, looked up once (both are exported from the start, at 0).
PREDICTED_F = PREDICTIONS.labels("F")
PREDICTED_M = PREDICTIONS.labels("M")


@lru_cache(maxsize=1024)
def _model_series(model_id: str, alias: str) -> Counter:
    """The per-model series, looked up once per (model, alias) pair."""
    return MODEL_PREDICTIONS.labels(model_id, alias)


def count_predictions(
    probabilities: np.ndarray, model_id: str | None = None, alias: str | None = None
) -> None:
    """Add each row of `probabilities` (of female) to the predictions counter of its label, and
    to the counter of the model that answered (`model_id`) through `alias`."""
    if model_id is not None and probabilities.size:
        _model_series(model_id, alias or "").inc(probabilities.size)
    females = int(np.count_nonzero(decide(probabilities)))
    if females:
        PREDICTED_F.inc(females)
    if probabilities.size - females:
        PREDICTED_M.inc(probabilities.size - females)


@lru_cache(maxsize=4096)
def _latency_series(endpoint: str, method: str, status: int) -> Histogram:
    """The latency histogram's series for these labels, looked up once per label set (few:
    URL rules x methods x statuses; `labels()` takes a lock and builds a key every time)."""
    return LATENCY.labels(endpoint, method, str(status))


def record_request(rule: str | None, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration (`rule` None: no route matched)."""
    method = method if method in KNOWN_METHODS else "OTHER"
    _latency_series(rule or UNMATCHED, method, status).observe(seconds)


class _Recorded:
    """The metrics this process recorded in memory, as a collector of a scrape's registry."""

    def collect(self):
        return RECORDED.collect()


def _recorded_registry() -> CollectorRegistry:
    """A registry holding the recorded metrics of every API process."""
    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get(MULTIPROCESS_VARIABLE)
    if directory:
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_Recorded())
    return registry


def request_totals(rules: set[str]) -> dict[str, list[float]]:
    """Requests answered under the URL `rules`, over every API process: `{"ok": [count,
    seconds], "failed": [count, seconds]}` (failed: a status of 400 or more)."""
    totals = {"ok": [0, 0.0], "failed": [0, 0.0]}
    for family in _recorded_registry().collect():
        if family.name != LATENCY_NAME:
            continue
        for sample in family.samples:
            if sample.labels.get("endpoint") not in rules:
                continue
            kind = "failed" if int(sample.labels["status"]) >= 400 else "ok"
            if sample.name.endswith("_count"):
                totals[kind][0] += int(sample.value)
            elif sample.name.endswith("_sum"):
                totals[kind][1] += sample.value
    return totals


def exposition(*scrape_time: Collector) -> Response:
    """The Prometheus text page: recorded metrics (of every API process) plus `scrape_time` ones."""
    registry = _recorded_registry()
    for collector in scrape_time:
        registry.register(collector)
    return Response(generate_latest(registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)
