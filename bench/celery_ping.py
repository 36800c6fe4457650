"""A bench-only Celery app: the bare round trip and task throughput that jobs are compared with.

It mirrors the delivery settings of `worker.celery_app` (JSON only, late acks, prefetch 1, prefork
pool, no mingle/gossip) but does no work around its tasks: `bench.ping` returns at once and
`bench.train_seed` trains the seed's network on its four people in memory (no store, no job
record). Results go to the broker's Redis, so a client can wait for them.

Run a worker with `python bench/celery_ping.py REDIS_URL [--concurrency N]`; use a Redis database
other than nnservice's (e.g. /1), so the two workers never take each other's messages.
"""

from __future__ import annotations

import argparse
import gc
import time

from celery import Celery
from seed import train_seed_network


def make_app(broker_url: str) -> Celery:
    """The bench app on `broker_url` (also its result backend)."""
    app = Celery("bench_ping", broker=broker_url, backend=broker_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
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
