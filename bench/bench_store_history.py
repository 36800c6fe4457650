"""Issue 11, acceptance 3: listings, /metrics and API memory at 100 and 30,000 jobs of history.

Two stores, one after the other, each with its own valkey-server, `nnservice worker` (default
concurrency) and `nnservice api` (gunicorn, default settings) on 127.0.0.1 and free ports:

  - SQLite (the default database in the store directory), migrated by `nnservice db upgrade`;
  - PostgreSQL: a new database on the server `--postgres-url` names (dropped afterwards),
    migrated the same way.

(The file store these replaced, commit c3f3fa7, was measured once; its result is recorded in
bench/README.md.) For each store, history is made through its API with a real worker finishing
every job:
  1. POST /datasets with the walkthrough's four people; `--small` (100) POST /train of the seed
     job (its default hyperparameters: 1000 epochs), sent at once, all awaited.
  2. A fresh API process; the same warm-up (`--warmup` rounds on each of two keep-alive
     connections, one per gunicorn worker), then `--rounds` rounds (or `--seconds` of them, at
     least `--min-rounds`) of GET /jobs?limit=20, GET /models?limit=20 and GET /metrics; then
     the RSS of the API's processes (gunicorn master and workers). The API is stopped.
  3. Seed jobs per second: `--bursts` times `--seed-jobs` POST /train of the seed job at once
     (8 client threads), then GET /jobs/{id} of each until final; rate = jobs / (first POST
     sent -> last finished_at).
  4. History up to `--large` minus `--small` jobs: POST /train of the seed job with
     `epochs=1`, in chunks of `--chunk`, the next chunk sent while the worker finishes the
     previous one.
  5. `--small` seed jobs (1000 epochs) at once through the API: the seed rate at that history,
     and the newest jobs, so that the first page holds the same kind of jobs at both sizes.
  6. Step 2 again at the large size.

    python bench/bench_store_history.py [--large 30000] [--backends sqlite,postgres]
        [--postgres-url postgresql+psycopg://user@host:port/postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
import sqlalchemy as sa
from harness import REPO, iso_seconds, machine, markdown_table, seed_job, upload_seed_dataset

from nnservice.embedded_redis import EmbeddedRedis, free_port
from nnservice.supervisor import stop_process

HOST = "127.0.0.1"
FINAL = ("succeeded", "failed", "cancelled")
PAGES = {
    "jobs": "/jobs?limit=20",
    "models": "/models?limit=20",
    "metrics": "/metrics",
}
MB = 1024 * 1024
CLIENT_THREADS = 8
#: Longest wait for any one thing (a job, a chunk, a server): the benchmark never hangs.
WAIT_SECONDS = 900.0


@dataclass
class Backend:
    """One store to measure: its database."""

    name: str
    database_url: str | None = None  # None: the store's default (SQLite in its directory)


@dataclass
class Sample:
    """Page latencies (seconds), answer sizes and the API's RSS at one history size."""

    jobs: int
    latencies: dict[str, list[float]]
    first: dict[str, float]
    sizes: dict[str, int]
    rss_total: float
    rss_worker: float


@dataclass
class Result:
    backend: str
    samples: list[Sample] = field(default_factory=list)
    seed_rates: list[float] = field(default_factory=list)
    seed_rate_large: float = 0.0
    fill_rate: float = 0.0
    fill_api_rss: float = 0.0
    states: dict[str, int] = field(default_factory=dict)


class Service:
    """valkey-server + `nnservice worker` + `nnservice api` processes of one backend."""

    def __init__(self, backend: Backend, root: Path) -> None:
        self.backend = backend
        self.root = root
        self.broker = EmbeddedRedis(root / "valkey", appendonly=False)
        self.api: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.url = ""

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NNSERVICE_")}
        env.update(
            REDIS_URL=self.broker.url,
            NNSERVICE_STORE=str(self.root / "store"),
            NNSERVICE_METRICS_DIR=str(self.root / "metrics"),
            NNSERVICE_LOG_LEVEL="WARNING",
            NUMBA_CACHE_DIR=str(REPO / ".numba_cache"),
        )
        if self.backend.database_url:
            env["NNSERVICE_DATABASE_URL"] = self.backend.database_url
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "nnservice.cli", *args]

    def spawn(self, log_name: str, *args: str) -> subprocess.Popen:
        with open(self.root / f"{log_name}.log", "ab") as log:
            return subprocess.Popen(
                self.command(*args),
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> None:
        """The broker, the migration, the worker and an API."""
        self.broker.start()
        subprocess.run(
            self.command("db", "upgrade"),
            cwd=REPO, env=self.env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        self.worker = self.spawn("worker", "worker")
        self.start_api()

    def start_api(self) -> None:
        """A fresh `nnservice api` on a free port, once /healthz answers."""
        port = free_port(HOST)
        self.api = self.spawn(f"api-{port}", "api", "--host", HOST, "--port", str(port))
        self.url = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 120
        while True:
            if self.api.poll() is not None:
                tail = (self.root / f"api-{port}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the API exited with {self.api.returncode}:\n{tail}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("the API did not answer /healthz within 120 s")
            time.sleep(0.1)

    def stop_api(self) -> None:
        if self.api is not None:
            stop_process(self.api, timeout=30)
            self.api = None

    def api_rss(self) -> tuple[float, float]:
        """(RSS of the gunicorn master and workers together, of the largest worker), in MB."""
        assert self.api is not None
        master = psutil.Process(self.api.pid)
        workers = master.children(recursive=True)
        sizes = [process.memory_info().rss for process in [master, *workers]]
        return sum(sizes) / MB, max(sizes[1:] or sizes) / MB

    def stop(self) -> None:
        self.stop_api()
        if self.worker is not None:
            stop_process(self.worker, timeout=30)
            self.worker = None
        self.broker.stop()


# Jobs through the API


def submit(url: str, body: dict, count: int) -> list[str]:
    """POST /train `count` times from CLIENT_THREADS keep-alive clients; the job ids in order."""
    local = threading.local()

    def one(_: int) -> str:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.post(f"{url}/train", json=body, timeout=120)
        response.raise_for_status()
        return response.json()["job_id"]

    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        return list(pool.map(one, range(count)))


def wait_final(session: requests.Session, url: str, job_ids: Sequence[str]) -> list[dict]:
    """GET /jobs/{id} of each job, oldest first, until final; the final records."""
    records = []
    deadline = time.monotonic() + WAIT_SECONDS
    for job_id in job_ids:
        while True:
            record = session.get(f"{url}/jobs/{job_id}", timeout=120).json()
            if record["state"] in FINAL:
                records.append(record)
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not final after {WAIT_SECONDS} s")
            time.sleep(0.05)
    return records


def seed_burst(url: str, dataset_id: str, count: int) -> float:
    """Jobs per second of `count` seed jobs sent at once (first POST -> last finished_at)."""
    started = time.time()
    job_ids = submit(url, seed_job(dataset_id), count)
    with requests.Session() as session:
        records = wait_final(session, url, job_ids)
    failed = [r["id"] for r in records if r["state"] != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} seed jobs did not succeed, e.g. {failed[0]}")
    return count / (max(iso_seconds(r["finished_at"]) for r in records) - started)


def job_states(url: str) -> dict[str, int]:
    """{state: jobs} from a /metrics scrape (nnservice_training_jobs)."""
    text = requests.get(f"{url}/metrics", timeout=600).text
    found = re.findall(r'^nnservice_training_jobs\{state="(\w+)"\} ([0-9.e+]+)$', text, re.M)
    return {state: int(float(value)) for state, value in found}


def fill(url: str, dataset_id: str, count: int, chunk: int, log: Callable[[str], None]) -> float:
    """`count` one-epoch seed jobs through POST /train, all finished; jobs per second."""
    body = seed_job(dataset_id, epochs=1)
    started = time.perf_counter()
    previous: list[str] = []
    with requests.Session() as session:
        sent = 0
        while sent < count:
            ids = submit(url, body, min(chunk, count - sent))
            sent += len(ids)
            wait_final(session, url, previous[-1:])  # keeps at most two chunks in the queue
            previous = ids
            rate = sent / (time.perf_counter() - started)
            log(f"    {sent:,} of {count:,} sent ({rate:.0f}/s)")
        wait_final(session, url, previous)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:  # the other pool process may still run an earlier job
        states = job_states(url)
        if states.get("queued", 0) + states.get("running", 0) == 0:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs still not final: {states}")
        time.sleep(0.2)
    return count / (time.perf_counter() - started)


# Pages


def measure(service: Service, jobs: int, args: argparse.Namespace) -> Sample:
    """A fresh API: warm-up, then timed rounds of the three pages, then its RSS."""
    service.start_api()
    latencies: dict[str, list[float]] = {name: [] for name in PAGES}
    first: dict[str, float] = {}
    sizes: dict[str, int] = {}
    sessions = [requests.Session(), requests.Session()]
    try:

        def get(round_index: int, name: str) -> float:
            began = time.perf_counter()
            response = sessions[round_index % 2].get(service.url + PAGES[name], timeout=600)
            elapsed = time.perf_counter() - began
            response.raise_for_status()
            sizes[name] = len(response.content)
            return elapsed

        for round_index in range(2 * args.warmup):  # the same warm-up on both connections
            for name in PAGES:
                elapsed = get(round_index, name)
                first.setdefault(name, elapsed)
        deadline = time.monotonic() + args.seconds
        for round_index in range(args.rounds):
            for name in PAGES:
                latencies[name].append(get(round_index, name))
            if round_index + 1 >= args.min_rounds and time.monotonic() > deadline:
                break
        rss_total, rss_worker = service.api_rss()
    finally:
        for session in sessions:
            session.close()
        service.stop_api()
    return Sample(jobs, latencies, first, sizes, rss_total, rss_worker)


def run_backend(
    backend: Backend, result: Result, args: argparse.Namespace, log: Callable[[str], None]
) -> None:
    """Steps 1-6 for one store, into `result` (what was measured stays there if a step fails)."""
    with tempfile.TemporaryDirectory(prefix=f"nnservice-history-{backend.name}-") as tmp:
        service = Service(backend, Path(tmp))
        try:
            service.start()
            with requests.Session() as session:
                dataset_id = upload_seed_dataset(session, service.url)
            log(f"  {args.small} seed jobs of history")
            with requests.Session() as session:
                wait_final(session, service.url, submit(service.url, seed_job(dataset_id),
                                                        args.small))  # fmt: skip
            service.stop_api()
            result.samples.append(measure(service, args.small, args))
            log(f"  at {args.small}: {summary(result.samples[-1])}")
            service.start_api()
            for _ in range(args.bursts):
                result.seed_rates.append(seed_burst(service.url, dataset_id, args.seed_jobs))
                log(f"  seed burst: {result.seed_rates[-1]:.1f} jobs/s")
            rest = args.large - 2 * args.small - args.bursts * args.seed_jobs
            log(f"  {rest:,} one-epoch jobs of history")
            result.fill_rate = fill(service.url, dataset_id, rest, args.chunk, log)
            log(f"  seed burst of {args.small} as the newest jobs")
            result.seed_rate_large = seed_burst(service.url, dataset_id, args.small)
            log(f"  seed burst at {args.large - args.small:,}: {result.seed_rate_large:.1f} jobs/s")
            result.fill_api_rss = service.api_rss()[0]
            result.states = job_states(service.url)
            service.stop_api()
            total = sum(result.states.values())
            result.samples.append(measure(service, total, args))
            log(f"  at {total:,}: {summary(result.samples[-1])}")
        finally:
            service.stop()


# Report


def p90(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def summary(sample: Sample) -> str:
    pages = ", ".join(
        f"{name} {1000 * statistics.median(values):.1f} ms"
        for name, values in sample.latencies.items()
    )
    return f"{pages}; API RSS {sample.rss_total:.0f} MB ({len(sample.latencies['jobs'])} rounds)"


def report(results: list[Result]) -> None:
    rows = []
    for result in results:
        small, large = result.samples
        for name in PAGES:
            s, b = small.latencies[name], large.latencies[name]
            ms_small, ms_large = 1000 * statistics.median(s), 1000 * statistics.median(b)
            rows.append([
                result.backend, f"GET {PAGES[name]}",
                f"{ms_small:.2f} / {1000 * p90(s):.2f}", f"{ms_large:.2f} / {1000 * p90(b):.2f}",
                f"{ms_large / ms_small:.2f}x", f"{1000 * large.first[name]:.0f}",
                f"{small.sizes[name]:,} / {large.sizes[name]:,}",
            ])  # fmt: skip
    print(markdown_table(
        ["store", "page", "100: median / p90 ms", "30k: median / p90 ms", "30k / 100",
         "30k: first on a fresh API, ms", "answer bytes 100 / 30k"],
        rows,
    ))  # fmt: skip
    print()
    anchor = results[0]
    anchor_rate = statistics.median(anchor.seed_rates)
    rows = []
    for result in results:
        small, large = result.samples
        rate = statistics.median(result.seed_rates)
        rows.append([
            result.backend, small.jobs, large.jobs,
            f"{small.rss_total:.1f} / {small.rss_worker:.1f}",
            f"{large.rss_total:.1f} / {large.rss_worker:.1f}",
            f"{large.rss_total - small.rss_total:+.1f}",
            f"{rate:.1f} ({', '.join(f'{r:.0f}' for r in result.seed_rates)})",
            f"{rate / anchor_rate:.2f}x", f"{result.seed_rate_large:.1f}",
            f"{result.fill_rate:.0f}", f"{result.fill_api_rss:.0f}",
        ])  # fmt: skip
    print(markdown_table(
        ["store", "jobs, small", "jobs, large", "API RSS MB at small: all / largest worker",
         "at large", "RSS difference MB (all)", "seed jobs/s (bursts)", f"x {anchor.backend}",
         "seed jobs/s at large", "history jobs/s (1 epoch)",
         "filling API's RSS MB after"],
        rows,
    ))  # fmt: skip
    print()
    for result in results:
        small, large = result.samples
        worst = max(
            statistics.median(large.latencies[n]) / statistics.median(small.latencies[n])
            for n in PAGES
        )
        growth = large.rss_total - small.rss_total
        met = worst <= 2 and growth <= 20
        print(f"- {result.backend}: {'met' if met else 'NOT MET'}: worst page 30k/100 "
              f"{worst:.2f}x (target <= 2x), API RSS {growth:+.1f} MB (target <= 20 MB); "
              f"final states {result.states}")  # fmt: skip


def fresh_database(server_url: str, running: contextlib.ExitStack) -> str:
    """The URL of a new, empty database on the PostgreSQL server of `server_url`, dropped when
    `running` closes."""
    name = f"nnservice_bench_{uuid.uuid4().hex[:12]}"
    server = sa.make_url(server_url)
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    running.callback(drop)
    return server.set(database=name).render_as_string(hide_password=False)


def open_backend(name: str, args: argparse.Namespace, running: contextlib.ExitStack) -> Backend:
    """The backend called `name`; what it makes is removed when `running` closes."""
    if name == "sqlite":
        return Backend("sqlite")
    if name == "postgres":
        return Backend("postgres", database_url=fresh_database(args.postgres_url, running))
    raise SystemExit(f"--backends: unknown {name!r} (sqlite, postgres)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--postgres-url",
        help="a PostgreSQL server the bench may create a database on (SQLAlchemy URL), e.g. "
        "NNSERVICE_TEST_DATABASE_URL after `. scripts/ci_backends.sh`",
    )
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=30_000)
    parser.add_argument("--seed-jobs", type=int, default=100)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--min-rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if "postgres" in args.backends.split(",") and not args.postgres_url:
        parser.error("--backends postgres needs --postgres-url")

    began = time.monotonic()

    def log(text: str) -> None:
        print(f"[{time.monotonic() - began:6.0f} s] {text}", flush=True)

    results, failed = [], []
    for name in args.backends.split(","):
        log(f"{name}: load average {os.getloadavg()[0]:.1f}")
        result = Result(name)
        try:
            with contextlib.ExitStack() as running:
                run_backend(open_backend(name, args, running), result, args, log)
            results.append(result)
        except Exception:  # report the other stores; say what this one measured
            log(f"{name} FAILED: {traceback.format_exc()}")
            log(f"{name} so far: seed bursts {result.seed_rates}; "
                + "; ".join(f"at {s.jobs}: {summary(s)}" for s in result.samples))  # fmt: skip
            failed.append(name)
    print(f"\n{machine()}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    if results:
        report(results)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
