"""Context for issue 5, item 5: what a quiet spell costs the next request on this machine.

No target of its own. Job 1 after a worker start comes after a quiet spell (the client waits while
the worker starts), job 10 after jobs run back to back. This measures the first answer after a
pause of 0-3 s, `--repeats` times per pause, for:
- two bare processes passing one byte back and forth over a socket pair (no Python web stack);
- the bare Flask endpoint of bench_predict_http.py (bench/bare_app.py, same gunicorn settings);
- nnservice's `POST /predict` (one row) on the production server settings.
Each over its own keep-alive connection (or socket), the pause taken right before the request.

    python bench/bench_idle.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from collections.abc import Callable

import requests
from bench_predict_http import BODY, start_bare
from harness import Stack, machine, markdown_table, median

PAUSES = (0.0, 0.5, 1.0, 3.0)
HEADERS = {"Content-Type": "application/json"}


def echo_pair() -> tuple[socket.socket, int]:
    """A socket whose other end is a forked child that echoes each byte; (socket, child pid)."""
    mine, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the child: echo until the socket closes, then leave without cleanup
        mine.close()
        while data := theirs.recv(16):
            theirs.sendall(data)
        os._exit(0)
    theirs.close()
    return mine, pid


def first_after(pause: float, request: Callable[[], object], repeats: int) -> float:
    """Median seconds of `request()` right after `pause` s of quiet (each after one warm call)."""
    times = []
    for _ in range(repeats):
        request()
        time.sleep(pause)
        start = time.perf_counter()
        request()
        times.append(time.perf_counter() - start)
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="The first answer after a quiet spell.")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    pair, child = echo_pair()

    def ping() -> None:
        pair.sendall(b"x")
        pair.recv(16)

    with Stack("idle") as stack, requests.Session() as bare, requests.Session() as ours:
        bare_url, _ = start_bare(stack)
        url = stack.start_api()
        stack.promote_seed_model()
        probes = {
            "socket ping-pong us": (ping, 1e6),
            "bare Flask POST /predict ms": (
                lambda: bare.post(bare_url + "/predict", data=BODY, headers=HEADERS),
                1e3,
            ),
            "nnservice POST /predict ms": (
                lambda: ours.post(url + "/predict", data=BODY, headers=HEADERS).raise_for_status(),
                1e3,
            ),
        }
        rows = []
        for pause in PAUSES:
            row: list[object] = [pause]
            for request, unit in probes.values():
                row.append(first_after(pause, request, args.repeats) * unit)
            rows.append(row)
            print(f"  pause {pause} s: " + ", ".join(f"{v:.3g}" for v in row[1:]), flush=True)
    pair.close()
    os.waitpid(child, 0)

    print(f"\n{machine()}; medians of {args.repeats}, each right after the pause\n")
    print(markdown_table(["pause s", *probes], rows))


if __name__ == "__main__":
    main()
