"""CPU time per POST /predict request in the app itself: single row (by the latest model, and
pinned by `model_id`), and 1,000 rows compact.

The real Flask app (the service's middleware, hooks, validation, model cache, metrics in
prometheus-client's multiprocess mode as under `nnservice api`) is called as a WSGI app in this
process, N requests a round; each round's CPU time (`time.process_time`, not wall time: the
machine may be busy) is divided by N. The cases alternate round by round, and each figure is the
median of the rounds. One more line times gunicorn's JSON access line (`JsonLogger.access`, one a
request under `nnservice api`), which the server writes after the app is done.

    python bench/bench_predict_cpu.py [--rounds 7] [--number 2000]
    python bench/bench_predict_cpu.py --profile single     # cProfile of the single-row case
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # before prometheus_client is imported
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="nnservice-bench-cpu-")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inprocess import service_app, wsgi_request  # noqa: E402

from model_store import ModelStore  # noqa: E402
from model_store.database import sqlite_url_for  # noqa: E402
from model_store.schema import upgrade  # noqa: E402

#: A 2-2-1 network (the seed's shape).
SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "weights": [[[-1.0, -1.0], [1.0, 1.0]], [[3.0, -3.0]]],
    "biases": [[0.0, 0.0], [0.0]],
    "loss": "mse",
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}
ONE_ROW = json.dumps({"weight": 128.0, "height": 63.0}).encode()
#: The batch of bench/bench_kserve.py, in /predict's compact form ([weight, height] pairs).
BATCH = json.dumps(
    {"instances": [[120.0 + (i % 80), 60.0 + (i % 14)] for i in range(1_000)]}
).encode()


def cpu_per_call(call: Callable[[], object], number: int) -> float:
    """CPU seconds of one call, over `number` calls."""
    start = time.process_time()
    for _ in range(number):
        call()
    return (time.process_time() - start) / number


def access_line() -> Callable[[], None]:
    """gunicorn's access line for one request, as `nnservice api` writes it (to /dev/null)."""
    from gunicorn.config import Config

    from nnservice.gunicorn_logging import JsonLogger

    config = Config()
    config.set("accesslog", os.devnull)
    config.set("errorlog", os.devnull)
    config.set("loglevel", "info")
    logger = JsonLogger(config)
    import logging

    for handler in logging.getLogger().handlers:
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the bench

    class Response:
        status_code = 200
        status = "200 OK"
        sent = 120

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/predict",
        "REMOTE_ADDR": "127.0.0.1",
        "nnservice.request_id": "0123456789abcdef0000000000000001",
    }
    elapsed = datetime.timedelta(microseconds=480)
    return lambda: logger.access(Response(), None, environ, elapsed)


def bare_flask() -> Callable[[], object]:
    """The anchor: a bare Flask endpoint that echoes the single-row body (`get_json`, `jsonify`)."""
    from flask import Flask, jsonify, request

    bare = Flask("bare")

    @bare.post("/predict")
    def echo():
        return jsonify(request.get_json())

    return wsgi_request(bare, "/predict", ONE_ROW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000, help="single-row requests a round")
    parser.add_argument("--profile", choices=["single", "batch"], help="cProfile one case")
    args = parser.parse_args()
    store_path = Path(tempfile.mkdtemp(prefix="nnservice-bench-cpu-store-"))
    upgrade(sqlite_url_for(store_path))
    store = ModelStore.in_directory(store_path)
    store.models.promote(store.models.save(SNAPSHOT)["id"])
    pinned = store.models.save({**SNAPSHOT, "biases": [[0.0, 0.0], [0.5]]})["id"]
    pinned_row = json.dumps({"weight": 128.0, "height": 63.0, "model_id": pinned}).encode()
    app = service_app(store_path)
    cases = {
        "bare Flask endpoint (anchor)": (bare_flask(), args.number),
        "single row": (wsgi_request(app, "/predict", ONE_ROW), args.number),
        "single row, pinned model_id": (wsgi_request(app, "/predict", pinned_row), args.number),
        "1,000 rows, compact": (wsgi_request(app, "/predict", BATCH), max(1, args.number // 20)),
    }
    for name, (call, _) in cases.items():
        status, body = call()
        if not status.startswith("200"):
            raise RuntimeError(f"{name}: {status} {body[:300]!r}")
    if args.profile:
        call, number = cases["single row" if args.profile == "single" else "1,000 rows, compact"]
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [call() for _ in range(number)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
        return
    cases["access log line (gunicorn)"] = (access_line(), args.number)
    rounds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (call, number) in cases.items():
            rounds[name].append(cpu_per_call(call, number))
    anchor = statistics.median(rounds["bare Flask endpoint (anchor)"])
    print(f"CPU microseconds a request, median of {args.rounds} rounds (min-max), x the anchor:")
    for name, values in rounds.items():
        low, high, mid = min(values) * 1e6, max(values) * 1e6, statistics.median(values)
        print(f"  {name:30s} {mid * 1e6:8.1f}   ({low:.1f}-{high:.1f})   {mid / anchor:6.2f}x")


if __name__ == "__main__":
    main()
