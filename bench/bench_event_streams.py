"""Single-row POST /predict's latency with 200 event streams and 500 idle keep-alive connections
open, against none (the anchor, measured in the same run), and the database queries per second the
streams cost.

`nnservice api` (gevent workers, docker-compose's worker count) on PostgreSQL, local objects, no
worker: the followed jobs stay queued, so the streams cost only what following costs. Each repeat:

  1. Nothing open: PostgreSQL's own counts for `--window` s (pg_stat_user_tables: scans of the
     jobs table, one per query on it; pg_stat_database: transactions, one per query of the API
     and one per pre-ping of its connection pool), then wrk on /predict (16 connections,
     `--seconds`): the anchor.
  2. `--streams` GET /jobs/{id}/events on `--jobs` queued jobs (each stream's first event
     received) and `--idle` keep-alive connections that made one request (GET /healthz) and
     wait; wrk on /predict again, within the server's 5 s keep-alive timeout, so the idle
     connections stay open throughout.
  3. The idle connections closed, the streams still open: the counts again. The difference to
     step 1 is what the streams cost; one follower per API process asks once per
     `service.job_events.POLL_SECONDS`, so about workers / POLL_SECONDS queries a second.
  4. The jobs cancelled: every stream sends `end` and is closed.

PostgreSQL's statistics reach pg_stat_database up to a second after a transaction; each window
starts `SETTLE_SECONDS` after the traffic before it. Without `--postgres-url`, a throwaway
PostgreSQL 15 is started (tests/backends.py, Debian's postgresql-15).

    python bench/bench_event_streams.py [--streams 200] [--idle 500] [--jobs 5] [--seconds 4]
        [--repeats 3] [--window 5] [--postgres-url postgresql+psycopg://user@host:port/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import socket
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from bench_predict_http import compose_settings
from bench_store_history import fresh_database
from harness import REPO, Stack, machine, markdown_table, median, verdict
from loadgen import run_wrk

from model_store import STATES
from service.job_events import POLL_SECONDS

BODY = json.dumps({"weight": 128, "height": 63})
CONNECTIONS = 16
#: PostgreSQL reports a backend's statistics at most once a second; wait that out before a window.
SETTLE_SECONDS = 1.5
#: How long a stream or an idle connection may take to answer when opened.
ANSWER_SECONDS = 30.0


def connect(host: str, port: int, request: str) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=ANSWER_SECONDS)
    sock.sendall(request.encode())
    return sock


def _read_until(sock: socket.socket, marker: bytes) -> None:
    """Read from `sock` until `marker` has arrived (raises if the server closes first)."""
    received = b""
    while marker not in received:
        data = sock.recv(65536)
        if not data:
            raise RuntimeError(f"the server closed a connection before {marker!r}: {received!r}")
        received += data


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed the connection (reads what arrived, never waits)."""
    while select.select([sock], [], [], 0)[0]:
        try:
            if not sock.recv(65536):
                return True
        except OSError:
            return True
    return False


def open_streams(host: str, port: int, job_ids: list[str], count: int) -> list[socket.socket]:
    """`count` event streams spread over `job_ids`, each once its first event has arrived."""
    streams = [
        connect(host, port, f"GET /jobs/{job_ids[n % len(job_ids)]}/events HTTP/1.1\r\n"
                             "Host: bench\r\n\r\n")
        for n in range(count)
    ]  # fmt: skip
    for sock in streams:
        _read_until(sock, b"event: progress")
    return streams


def open_idle(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` keep-alive connections that each made one request and now wait."""
    request = "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
    idle = [connect(host, port, request) for _ in range(count)]
    for sock in idle:
        _read_until(sock, b"\r\n\r\n")
    return idle


@dataclass(frozen=True)
class Rates:
    """Per second over a window: queries on the counted table, and all transactions."""

    table_queries: float
    transactions: float


class DatabaseCounts:
    """PostgreSQL's own counts for the bench's database: scans of `table` (each query on it is
    one: a follower's poll, a stream's read of a record) and transactions (every query of the
    API, and every pre-ping of its connection pool, is one)."""

    QUERY = sa.text(
        "SELECT (SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
        "        WHERE relname = :table),"
        "       (SELECT xact_commit + xact_rollback FROM pg_stat_database"
        "        WHERE datname = current_database())"
    )

    def __init__(self, database_url: str, table: str = "jobs") -> None:
        self.engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
        self.connection = self.engine.connect()
        self.table = table

    def counts(self) -> tuple[int, int]:
        table_queries, transactions = self.connection.execute(
            self.QUERY, {"table": self.table}
        ).one()
        return int(table_queries), int(transactions)

    def per_second(self, seconds: float) -> Rates:
        """The rates over the next `seconds` (after `SETTLE_SECONDS`)."""
        time.sleep(SETTLE_SECONDS)
        (table0, xacts0), started = self.counts(), time.monotonic()
        time.sleep(seconds)
        (table1, xacts1), elapsed = self.counts(), time.monotonic() - started
        return Rates((table1 - table0) / elapsed, (xacts1 - xacts0) / elapsed)

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


def run(args: argparse.Namespace, database_url: str) -> None:
    rows: dict[str, list] = {"none": [], "with": []}
    cost: dict[str, list[Rates]] = {"none": [], "with": []}
    still_open: list[int] = []
    settings = {**compose_settings(), "NNSERVICE_DATABASE_URL": database_url}
    workers = int(settings.get("NNSERVICE_API_WORKERS", "2"))
    with Stack("event-streams", **settings) as stack:
        database = DatabaseCounts(database_url)
        try:
            stack.promote_seed_model()
            url = stack.start_api()  # no worker: the followed jobs stay queued
            host, port = urlsplit(url).hostname, urlsplit(url).port
            run_wrk(f"{url}/predict", BODY, CONNECTIONS, 1.0)  # warm up
            for repeat in range(args.repeats):
                cost["none"].append(database.per_second(args.window))
                rows["none"].append(run_wrk(f"{url}/predict", BODY, CONNECTIONS, args.seconds))
                job_ids = [f"bench-{repeat}-{n}" for n in range(args.jobs)]
                for job_id in job_ids:
                    stack.store.jobs.create({"id": job_id, "hyperparameters": {}})
                streams = open_streams(host, port, job_ids, args.streams)
                idle = open_idle(host, port, args.idle)
                try:
                    wrk = run_wrk(f"{url}/predict", BODY, CONNECTIONS, args.seconds)
                    rows["with"].append(wrk)
                    still_open.append(sum(not _closed_by_server(sock) for sock in idle))
                finally:
                    for sock in idle:
                        with contextlib.suppress(OSError):
                            sock.close()
                try:
                    cost["with"].append(database.per_second(args.window))
                finally:
                    for job_id in job_ids:  # every stream sends `end`
                        stack.store.jobs.transition(job_id, STATES, state="cancelled")
                    for sock in streams:
                        with contextlib.suppress(OSError, RuntimeError):
                            _read_until(sock, b"event: end")
                        sock.close()
        finally:
            database.close()
    report(args, rows, cost, still_open, workers)


def report(args, rows, cost, still_open: list[int], workers: int) -> None:
    print(
        f"{machine()}\n{args.repeats} x {args.seconds:g} s wrk runs at {CONNECTIONS} connections "
        f"and {args.repeats} x {args.window:g} s query windows each way, medians\n"
    )
    names = {"none": "none", "with": f"{args.streams} streams + {args.idle} idle"}
    anchor = rows["none"]
    table = [
        [names[name], median(r.rps for r in runs), median(r.p50_ms for r in runs),
         median(r.p99_ms for r in runs),
         median(r.p99_ms for r in runs) / median(r.p99_ms for r in anchor),
         sum(r.errors + r.non_2xx for r in runs)]
        for name, runs in rows.items()
    ]  # fmt: skip
    print(markdown_table(["open", "req/s", "p50 ms", "p99 ms", "p99 / none", "errors"], table))
    print(f"\nidle connections still open after each loaded run: {still_open} of {args.idle}\n")
    bound = workers / POLL_SECONDS
    rates = [
        [what, median(getattr(r, field) for r in cost["none"]),
         median(getattr(r, field) for r in cost["with"])]
        for what, field in (("queries on the jobs table", "table_queries"),
                            ("all transactions", "transactions"))
    ]  # fmt: skip
    print(markdown_table(
        ["per second", "nothing open", f"{args.streams} streams open", "the streams' cost"],
        [[what, none, streams, streams - none] for what, none, streams in rates],
    ))  # fmt: skip
    print(f"\none follower per process: {workers} x 1/{POLL_SECONDS:g} s = {bound:g} queries/s; "
          f"a poll per stream (before): {args.streams} x 1/{POLL_SECONDS:g} s = "
          f"{args.streams / POLL_SECONDS:g}")  # fmt: skip
    streams_cost = rates[0][2] - rates[0][1]
    p99_ratio = table[1][4]
    print()
    print("- " + verdict(p99_ratio <= 5, f"/predict p99 {p99_ratio:.2f}x with the load (<= 5x)"))
    text = f"the streams cost {streams_cost:.1f} queries/s on the jobs table (about {bound:g})"
    print("- " + verdict(streams_cost <= bound * 1.2, text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)  # within the 5 s keep-alive timeout
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", type=float, default=5.0)
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
