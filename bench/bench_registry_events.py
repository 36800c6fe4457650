"""Single-row POST /predict's latency with 1,000 `GET /events` streams open on one API process,
against none (the anchor, measured in the same run), and the database queries a second the
streams cost.

`nnservice api` with ONE gevent worker process on PostgreSQL, local objects, no Celery worker.
While the streams are open the registry changes once a second (a dataset stored, as an upload
does), so every stream is sent an event a second. Each repeat:

  1. Nothing open: PostgreSQL's own counts for `--window` s (pg_stat_user_tables: scans of the
     events table, one per query on it), then wrk on /predict (16 connections, `--seconds`):
     the anchor.
  2. `--streams` GET /events, each once it has received a first event (so each follows the
     process's tail); wrk on /predict again, the changes going on.
  3. The counts again, the streams open and the changes going on. The difference to step 1 is
     what the streams cost: one tail per process polls once per
     `service.event_tail.POLL_SECONDS`, so about 5 queries a second, however many streams.
  4. The streams closed; two more events let them go, and the tail stops polling.

Without `--postgres-url`, a throwaway PostgreSQL 15 is started (tests/backends.py).

    python bench/bench_registry_events.py [--streams 1000] [--seconds 4] [--repeats 2]
        [--window 4] [--postgres-url postgresql+psycopg://user@host:port/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import select
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

from bench_event_streams import (
    BODY,
    CONNECTIONS,
    SETTLE_SECONDS,
    DatabaseCounts,
    Rates,
    connect,
)
from bench_store_history import fresh_database
from harness import REPO, Stack, machine, markdown_table, median, verdict
from loadgen import run_wrk

from service.event_tail import POLL_SECONDS

#: The acceptance bound: /predict's p99 with the streams open, over its p99 without.
MAX_P99_RATIO = 5.0
#: Seconds a stream may take to receive its first event.
ANSWER_SECONDS = 60.0


class Changes:
    """Stores a new dataset every `every` seconds in a thread while running (one event each)."""

    def __init__(self, stack: Stack, every: float = 1.0) -> None:
        self.stack = stack
        self.every = every
        self.made = 0
        self.base = time.time_ns() % 1_000_000
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def once(self) -> None:
        """Store one new dataset (new rows: a new id, so a `dataset_created` event)."""
        self.made += 1
        weight = 100.0 + (self.base + self.made) / 1000
        self.stack.store.datasets.save("bench", [weight, 180.0], [60.0, 70.0], [1.0, 0.0])

    def __enter__(self) -> Changes:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.once()


def open_streams(host: str, port: int, count: int, changes: Changes) -> list[socket.socket]:
    """`count` /events streams, returned once each has received an event (so it follows)."""
    request = "GET /events HTTP/1.1\r\nHost: bench\r\n\r\n"
    streams = [connect(host, port, request) for _ in range(count)]
    received = {sock: b"" for sock in streams}
    waiting = set(streams)
    deadline = time.monotonic() + ANSWER_SECONDS
    while waiting:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(waiting)} streams received no event")
        changes.once()  # one event for all of them
        until = time.monotonic() + 1.0
        while waiting and time.monotonic() < until:
            ready, _, _ = select.select(list(waiting), [], [], 0.1)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError(f"the server closed a stream: {received[sock]!r}")
                received[sock] += data
                if b"event: dataset_created" in received[sock]:
                    waiting.discard(sock)
    return streams


def let_streams_go(changes: Changes, database: DatabaseCounts) -> None:
    """After the streams' sockets are closed: a stream notices when it next writes, so two
    more events let them all go, and then the tail stops polling (waited for: until the events
    table's count stands still for `SETTLE_SECONDS`)."""
    for _ in range(2):
        changes.once()
        time.sleep(POLL_SECONDS * 2)
    deadline = time.monotonic() + ANSWER_SECONDS
    before = database.counts()[0]
    while time.monotonic() < deadline:
        time.sleep(SETTLE_SECONDS)
        now = database.counts()[0]
        if now == before:
            return
        before = now
    raise RuntimeError("the events table is still polled after the streams closed")


def run(args: argparse.Namespace, database_url: str) -> None:
    rows: dict[str, list] = {"none": [], "with": []}
    cost: dict[str, list[Rates]] = {"none": [], "with": []}
    settings = {"NNSERVICE_API_WORKERS": "1", "NNSERVICE_DATABASE_URL": database_url}
    with Stack("registry-events", **settings) as stack:
        database = DatabaseCounts(database_url, table="events")
        try:
            stack.promote_seed_model()
            url = stack.start_api()
            host, port = urlsplit(url).hostname, urlsplit(url).port
            run_wrk(f"{url}/predict", BODY, CONNECTIONS, 1.0)  # warm up
            changes = Changes(stack)
            for _ in range(args.repeats):
                cost["none"].append(database.per_second(args.window))
                rows["none"].append(run_wrk(f"{url}/predict", BODY, CONNECTIONS, args.seconds))
                streams = open_streams(host, port, args.streams, changes)
                try:
                    with changes:
                        wrk = run_wrk(f"{url}/predict", BODY, CONNECTIONS, args.seconds)
                        rows["with"].append(wrk)
                        cost["with"].append(database.per_second(args.window))
                finally:
                    for sock in streams:
                        with contextlib.suppress(OSError):
                            sock.close()
                    let_streams_go(changes, database)
        finally:
            database.close()
    report(args, rows, cost)


def report(args: argparse.Namespace, rows: dict, cost: dict) -> None:
    print(
        f"{machine()}\n{args.repeats} x {args.seconds:g} s wrk runs at {CONNECTIONS} connections "
        f"and {args.repeats} x {args.window:g} s query windows each way, medians; 1 API process\n"
    )
    names = {"none": "none", "with": f"{args.streams} /events streams"}
    anchor = rows["none"]
    table = [
        [names[name], median(r.rps for r in runs), median(r.p50_ms for r in runs),
         median(r.p99_ms for r in runs),
         median(r.p99_ms for r in runs) / median(r.p99_ms for r in anchor),
         sum(r.errors + r.non_2xx for r in runs)]
        for name, runs in rows.items()
    ]  # fmt: skip
    print(markdown_table(["open", "req/s", "p50 ms", "p99 ms", "p99 / none", "errors"], table))
    rates = [
        [what, median(getattr(r, field) for r in cost["none"]),
         median(getattr(r, field) for r in cost["with"])]
        for what, field in (("queries on the events table", "table_queries"),
                            ("all transactions", "transactions"))
    ]  # fmt: skip
    print()
    print(markdown_table(
        ["per second", "nothing open", f"{args.streams} streams open", "the streams' cost"],
        [[what, none, streams, streams - none] for what, none, streams in rates],
    ))  # fmt: skip
    bound = 1 / POLL_SECONDS
    streams_cost = rates[0][2] - rates[0][1]
    p99_ratio = table[1][4]
    print()
    print("- " + verdict(p99_ratio <= MAX_P99_RATIO, f"/predict p99 {p99_ratio:.2f}x with the "
                         f"streams open (<= {MAX_P99_RATIO:g}x)"))  # fmt: skip
    text = (
        f"the streams cost {streams_cost:.1f} queries/s on the events table (at most one per "
        f"{POLL_SECONDS:g} s poll: {bound:g}/s)"
    )
    print("- " + verdict(streams_cost <= bound * 1.1, text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument(
        "--postgres-url",
        help="a PostgreSQL server the bench may create a database on (SQLAlchemy URL); "
        "default: a throwaway PostgreSQL 15 started here",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as running:
        server_url = args.postgres_url
        if server_url is None:
            sys.path.insert(0, str(REPO / "tests"))
            from backends import start_postgres

            server_url, stop = start_postgres("nnservice_bench")
            running.callback(stop)
        run(args, fresh_database(server_url, running))


if __name__ == "__main__":
    main()
