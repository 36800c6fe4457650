"""Single-row POST /predict's latency with and without the load of acceptance 1 of issue 12: 32
open event streams, 64 clients sending their headers a byte at a time and 16 whose body never
arrives, all held open against `nnservice api` (gevent workers, docker-compose's worker count)
while wrk measures /predict at 16 connections. Without that load, the same wrk run is the anchor.
No target: the number to watch is how much the p99 grows (issue 12's test bounds it at 5 s).

    python bench/bench_slow_clients.py [--seconds 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
from urllib.parse import urlsplit

from bench_predict_http import compose_settings
from harness import Stack, machine, markdown_table, median
from loadgen import run_wrk

BODY = json.dumps({"weight": 128, "height": 63})
STREAMS, SLOW_HEADERS, STALLED_BODIES = 32, 64, 16


def open_load(host: str, port: int, job_id: str) -> list[socket.socket]:
    """Open the streams, the slow-header clients and the stalled bodies; the open sockets."""
    sockets = []
    requests = (
        [f"GET /jobs/{job_id}/events HTTP/1.1\r\nHost: b\r\n\r\n".encode()] * STREAMS
        + [b"GET /healthz HTTP/1.1\r\nHo"] * SLOW_HEADERS
        + [b"POST /predict HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
           b'Content-Length: 100\r\n\r\n{"weight"'] * STALLED_BODIES
    )  # fmt: skip
    for request in requests:
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(request)
        sockets.append(sock)
    return sockets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)  # within the 5 s header timeout
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = {"without": [], "with": []}
    with Stack("slow-clients", **compose_settings()) as stack:
        stack.promote_seed_model()
        dataset, _ = stack.store.datasets.save("b", [130.0, 170.0], [64.0, 70.0], [1.0, 0.0])
        job = stack.store.jobs.create({"id": "bench", "dataset_id": dataset.id,
                                      "hyperparameters": {}})  # fmt: skip
        url = stack.start_api()  # no worker: the job stays queued, its streams stay open
        host, port = urlsplit(url).hostname, urlsplit(url).port
        run_wrk(f"{url}/predict", BODY, 16, 1.0)  # warm up
        for _ in range(args.repeats):
            rows["without"].append(run_wrk(f"{url}/predict", BODY, 16, args.seconds))
            sockets = open_load(host, port, job.id)
            try:
                rows["with"].append(run_wrk(f"{url}/predict", BODY, 16, args.seconds))
            finally:
                for sock in sockets:
                    with contextlib.suppress(OSError):
                        sock.close()
    print(f"{machine()}\n{args.repeats} x {args.seconds:g} s wrk runs at 16 connections, medians\n")
    table = [
        [name, median(r.rps for r in runs), median(r.p50_ms for r in runs),
         median(r.p99_ms for r in runs), sum(r.errors + r.non_2xx for r in runs)]
        for name, runs in rows.items()
    ]  # fmt: skip
    print(markdown_table(["slow/streaming load", "req/s", "p50 ms", "p99 ms", "errors"], table))


if __name__ == "__main__":
    main()
