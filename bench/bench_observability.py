"""What observability costs: the per-request middleware (request id, metrics), a /metrics scrape.

1. Single-row POST /predict through the real app in this process (WSGI, no HTTP), with and without
   `service.observability`'s middleware, interleaved rounds, prometheus-client in multiprocess mode
   (files, as under `nnservice api`) or in memory; the difference is its cost per request.
   The predictions counter (in the predict path in both variants) is timed on its own.
2. GET /metrics with N finished jobs in the store (SQLite, migrated as `nnservice db upgrade`
   does): the first scrape and the next ones (aggregate queries: `service.store_metrics`).

    python bench/bench_observability.py [--rounds 15] [--number 2000] [--jobs 2000]
    python bench/bench_observability.py --rounds 2 --number 50 --jobs 20   # does it run?
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

MULTIPROCESS = "--in-memory" not in sys.argv
if MULTIPROCESS:  # before prometheus_client is imported, as `nnservice api` does
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="nnservice-bench-metrics-")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from inprocess import service_app, wsgi_request, wsgi_seconds  # noqa: E402

from model_store import ModelStore  # noqa: E402
from model_store.database import sqlite_url_for  # noqa: E402
from model_store.schema import upgrade  # noqa: E402
from service.metrics import count_predictions  # noqa: E402

SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "weights": [[[-1.0, -1.0], [1.0, 1.0]], [[3.0, -3.0]]],
    "biases": [[0.0, 0.0], [0.0]],
    "loss": "mse",
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}


def without_hooks(app):
    """The same app without service.observability's middleware."""
    app.wsgi_app = app.wsgi_app.app
    return app


def hooks_cost(store_path: Path, rounds: int, number: int) -> tuple[float, float, list[float]]:
    body = b'{"weight": 128, "height": 63}'
    with_hooks = wsgi_request(service_app(store_path), "/predict", body)
    bare = wsgi_request(without_hooks(service_app(store_path)), "/predict", body)
    a, b = [], []
    for _ in range(rounds):
        a.append(wsgi_seconds(with_hooks, number, 1))
        b.append(wsgi_seconds(bare, number, 1))
    return min(a), min(b), [x - y for x, y in zip(a, b, strict=True)]


def scrape_times(store: ModelStore, store_path: Path, jobs: int) -> tuple[float, float]:
    for index in range(jobs):  # as a worker runs them: claimed, then finished
        job_id = f"bench-{index}"
        store.jobs.create({"id": job_id, "dataset_id": "ds-bench"})
        store.jobs.claim(job_id, "bench", 30, 3)
        store.jobs.finish(job_id, "bench", "succeeded", loss_history=[0.25] * 1000)
    client = service_app(store_path).test_client()
    start = time.perf_counter()
    assert client.get("/metrics").status_code == 200
    first = time.perf_counter() - start
    warm = statistics.median(
        timeit.repeat(lambda: client.get("/metrics"), number=1, repeat=11)
    )  # fmt: skip
    return first, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--in-memory", action="store_true", help="no multiprocess files")
    args = parser.parse_args()
    store_path = Path(tempfile.mkdtemp(prefix="nnservice-bench-obs-"))
    upgrade(sqlite_url_for(store_path))  # as `nnservice db upgrade` does
    store = ModelStore.in_directory(store_path)
    store.models.promote(store.models.save(SNAPSHOT)["id"])

    mode = "multiprocess files" if MULTIPROCESS else "in memory"
    observed, bare, differences = hooks_cost(store_path, args.rounds, args.number)
    low, high = np.percentile(differences, [25, 75]) * 1e6
    print(f"prometheus-client: {mode}; {args.rounds} interleaved rounds of {args.number} requests")
    median = statistics.median(differences) * 1e6
    print(f"single-row /predict with the middleware, best round  {observed * 1e6:8.1f} us")
    print(f"single-row /predict without it, best round           {bare * 1e6:8.1f} us")
    print(f"middleware per request, median of rounds             {median:8.1f} us")
    print(f"  (quartiles of the rounds' differences: {low:.1f} - {high:.1f} us)")
    one = np.array([0.9])
    counted = min(timeit.repeat(lambda: count_predictions(one), number=100_000, repeat=5))
    print(f"predictions counter, one row                         {counted / 1e5 * 1e6:8.2f} us")
    first, warm = scrape_times(store, store_path, args.jobs)
    print(
        f"GET /metrics, {args.jobs} job records: "
        f"first {first * 1e3:.1f} ms, then {warm * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
