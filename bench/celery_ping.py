"""A bench-only Celery app: the bare round trip and task throughput that jobs are compared with.

It is the worker's own Celery configuration (`make_celery`: JSON only, late acks, prefetch 1,
the same transport options), run with a prefork pool and no mingle/gossip, but it does no work
around its tasks: `bench.ping` returns at once and `bench.train_seed` trains the seed's network on
its four people in memory (no store, no job record). It changes only what a bench needs: results
go to the broker's Redis, so a client can wait for them, and nnservice's tasks are not loaded.

Run a worker with `python bench/celery_ping.py REDIS_URL [--concurrency N]`; use a Redis database
other than nnservice's (e.g. /1), so the two workers never take each other's messages.
"""

from __future__ import annotations

import argparse
import gc
import time

from celery import Celery
from seed import train_seed_network

from foundation.settings import Settings
from worker.celery_config import make_celery


def make_app(broker_url: str) -> Celery:
    """The worker's Celery app on `broker_url`, which is also its result backend."""
    app = make_celery(Settings(redis_url=broker_url))
    app.conf.update(
        include=[],
        result_backend=broker_url,
        task_ignore_result=False,
        result_expires=600,
    )

    @app.task(name="bench.ping")
    def ping() -> str:
        return "pong"

    @app.task(name="bench.train_seed")
    def train_seed(epochs: int = 1000) -> float:
        """The seed walkthrough's training in memory (no store, no job record); its final loss."""
        return train_seed_network(epochs)[2]

    return app


def burst_seconds(app: Celery, task: str, count: int, **kwargs: object) -> float:
    """Seconds from sending `count` tasks at once until the last result is back."""
    signature = app.signature(task, kwargs=kwargs)
    start = time.perf_counter()
    results = [signature.delay() for _ in range(count)]
    for result in results:
        result.get(timeout=300)
    elapsed = time.perf_counter() - start
    # AsyncResults sit in reference cycles; freed later (after the bench stops the broker), each
    # would retry unsubscribing from a server that is gone. Free them now, while it still runs.
    del results
    gc.collect()
    return elapsed


def round_trips(app: Celery, task: str, count: int, **kwargs: object) -> list[float]:
    """Seconds of `count` round trips of `task` (send, run, result back), one after another."""
    return [burst_seconds(app, task, 1, **kwargs) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the bench-only Celery worker.")
    parser.add_argument("broker_url")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    make_app(args.broker_url).worker_main(
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={args.concurrency}",
            "--loglevel=WARNING",
            "--without-mingle",
            "--without-gossip",
            "--hostname=bench-ping@%h",
        ]
    )


if __name__ == "__main__":
    main()
