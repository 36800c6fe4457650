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

Requests do not write those values themselves: each appends one tuple to a queue in this process
(no lock: a deque's append is atomic), and a background thread adds what is queued to
prometheus-client's values every `FLUSH_SECONDS`, as do a scrape (for the process answering
it) and a worker's exit (`flush`). A scrape therefore sees every request its own process
answered, and those of the other API processes up to `FLUSH_SECONDS` late. prometheus-client's
multiprocess values cost a lock, a `getpid` and an mmap write each, three a request; batched,
a second of traffic costs one write per bucket touched.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from bisect import bisect_left
from collections import Counter as Tallied
from collections import defaultdict, deque
from operator import itemgetter
from typing import Any

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
    "Rows predicted (all protocols), by predicted label: F (probability >= 0.5) or M.",
    ["gender"],
    registry=RECORDED,
)
_FEMALE = PREDICTIONS.labels("F")
_MALE = PREDICTIONS.labels("M")
#: Seconds between two additions of the counts to prometheus-client's values.
FLUSH_SECONDS = 1.0
#: Entries the background flush adds between two moments of letting other threads run.
FLUSH_PAUSE_EVERY = 256

RequestKey = tuple[str | None, str, int]


class Tally:
    """Counts not yet added to the Prometheus metrics.

    `requests` maps (rule, method, status) to one count per latency bucket (the last one for
    durations above every bucket) followed by the sum of the durations; `predictions` counts
    [F, M].
    """

    def __init__(self) -> None:
        self.requests: dict[RequestKey, list] = {}
        self.predictions = [0, 0]

    def add_requests(self, entries: list[tuple]) -> None:
        """Add (rule, method, status, bucket index, seconds) entries (see `record_request`)."""
        counts = Tallied(map(_KEY_AND_BUCKET, entries))  # counted in C
        sums: dict[tuple, float] = defaultdict(float)
        for rule, method, status, _, seconds in entries:
            sums[rule, method, status] += seconds
        empty = [0] * (len(LATENCY_BUCKETS) + 1)
        for (rule, method, status, bucket), count in counts.items():
            key = (rule, method if method in KNOWN_METHODS else "OTHER", status)
            row = self.requests.get(key)
            if row is None:
                row = self.requests[key] = [*empty, 0.0]
            row[bucket] += count
        for (rule, method, status), seconds in sums.items():
            method = method if method in KNOWN_METHODS else "OTHER"
            self.requests[rule, method, status][-1] += seconds

    def add_to_metrics(self) -> None:
        """Add these counts to the Prometheus values: per bucket, what that many `observe` calls
        would have added (tests/observability checks the two against each other)."""
        for (rule, method, status), row in self.requests.items():
            child = _latency_child(rule, method, status)
            child._sum.inc(row[-1])
            for bucket, count in zip(child._buckets, row[:-1], strict=True):
                if count:
                    bucket.inc(count)
        females, males = self.predictions
        if females:
            _FEMALE.inc(females)
        if males:
            _MALE.inc(males)


_children: dict[RequestKey, Any] = {}


def _latency_child(rule: str | None, method: str, status: int) -> Any:
    key = (rule, method, status)
    child = _children.get(key)
    if child is None:
        child = _children[key] = LATENCY.labels(rule or UNMATCHED, method, str(status))
    return child


#: What requests recorded since the last flush: (rule, method, status, latency bucket index,
#: seconds) for a request, (females, males) for predictions. A deque's append and popleft are
#: atomic, so requests need no lock and the flush takes each entry exactly once.
_requests: deque[tuple[str | None, str, int, int, float]] = deque()
_KEY_AND_BUCKET = itemgetter(0, 1, 2, 3)
_predictions: deque[tuple[int, int]] = deque()
_ONE_FEMALE, _ONE_MALE = (1, 0), (0, 1)
_flushing = threading.Lock()
_flusher: threading.Thread | None = None


def count_predictions(probabilities: np.ndarray) -> None:
    """Add each row of `probabilities` (of female) to the predictions counter of its label."""
    females = int(np.count_nonzero(probabilities >= 0.5))
    _predictions.append((females, probabilities.size - females))
    if _flusher is None:
        _start_flusher()


def count_prediction(female: bool) -> None:
    """Count one predicted row (the single-row path: no array)."""
    _predictions.append(_ONE_FEMALE if female else _ONE_MALE)
    if _flusher is None:
        _start_flusher()


def record_request(rule: str | None, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration (`rule` None: no route matched)."""
    # the latency bucket: the first whose upper bound (le) is >= seconds, the last for +Inf
    _requests.append((rule, method, status, bisect_left(LATENCY_BUCKETS, seconds), seconds))
    if _flusher is None:
        _start_flusher()


def flush(pause_every: int | None = None) -> None:
    """Add what this process recorded so far to the Prometheus metrics (once this returns, every
    request recorded before the call is in them).

    The queue is taken `pause_every` entries at a time (the background thread's flushes), letting
    other threads run in between, so that requests in flight wait for a fraction of a millisecond
    of this work at most, not for all of a second's worth.
    """
    chunk = pause_every or sys.maxsize
    with _flushing:  # one flush at a time (and only a flush takes entries from the queues)
        tally = Tally()
        while _requests:
            tally.add_requests(_take(_requests, chunk))
            if pause_every:
                time.sleep(0)
        for females, males in _take(_predictions, sys.maxsize):
            tally.predictions[0] += females
            tally.predictions[1] += males
        tally.add_to_metrics()


def _take(queue: deque, most: int) -> list:
    popleft = queue.popleft
    return [popleft() for _ in range(min(len(queue), most))]


def _start_flusher() -> None:
    """Start this process's flushing thread (once; again in a forked child)."""
    global _flusher
    with _flushing:
        if _flusher is None:
            _flusher = threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True)
            _flusher.start()


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        flush(pause_every=FLUSH_PAUSE_EVERY)


def _forget_parent_state() -> None:
    """In a forked child: the parent's thread is not running here, and its records are its own."""
    global _flusher, _flushing
    _flusher, _flushing = None, threading.Lock()
    _requests.clear()
    _predictions.clear()


os.register_at_fork(after_in_child=_forget_parent_state)


class _Recorded:
    """The metrics this process recorded in memory, as a collector of a scrape's registry."""

    def collect(self):
        return RECORDED.collect()


def _recorded_registry() -> CollectorRegistry:
    """A registry holding the recorded metrics of every API process (this one's flushed)."""
    flush()
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
