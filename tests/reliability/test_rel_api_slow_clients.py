"""Slow, idle and streaming connections cost the API no worker thread (gunicorn's gevent worker):
32 event streams, 64 clients sending their headers a byte a second and 16 whose body never
arrives, all open at once against the real stack, and `/healthz` and a single-row `/predict` still
answer (each within 5 s: a liveness bound, not a benchmark). The slow clients are then cut off by
the server's timeouts: headers (gunicorn's keep-alive timeout) and body (408, `BODY_TIMEOUT`)."""

from __future__ import annotations

import contextlib
import select
import socket
import time

import numpy as np
import pytest
import requests

from nnservice.gunicorn_conf import KEEPALIVE_SECONDS
from service.body_limit import BODY_TIMEOUT_SECONDS

from .conftest import EMILY, SNAPSHOT

pytestmark = pytest.mark.fault

STREAMS, SLOW_HEADERS, STALLED_BODIES = 32, 64, 16
LIVENESS_SECONDS = 5.0
#: Every slow client must be cut off well within this (the server's timeouts are 5 s and 10 s).
CUT_OFF_DEADLINE = 4 * max(KEEPALIVE_SECONDS, BODY_TIMEOUT_SECONDS)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _open_stream(port: int, job_id: str) -> socket.socket:
    sock = _connect(port)
    sock.sendall(f"GET /jobs/{job_id}/events HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    assert sock.recv(64).startswith(b"HTTP/1.1 200")
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed (or reset) the connection; reads what has arrived
    (stream events), never waits."""
    while select.select([sock], [], [], 0)[0]:
        try:
            if not sock.recv(65536):
                return True
        except OSError:
            return True
    return False


def _long_job(stack) -> str:
    """A job that keeps training until cancelled (its streams stay open meanwhile): 10,000 seeded
    synthetic rows, 100,000 epochs (the whole default budget)."""
    weights, heights = np.random.default_rng(12).uniform((100, 58), (200, 76), (10_000, 2)).T
    rows = [
        {"weight": w, "height": h, "gender": "F" if h < 66 else "M"}
        for w, h in zip(weights.tolist(), heights.tolist(), strict=True)
    ]
    answer = stack.post(
        "/train", json={"rows": rows, "hyperparameters": {"epochs": 100_000, "seed": 1}}
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["job_id"]


def test_slow_and_streaming_clients_do_not_stop_the_api(stack) -> None:
    model = stack.post("/models", json=SNAPSHOT)
    assert model.status_code in (200, 201), model.text
    assert stack.post(f"/models/{model.json()['id']}/promote").status_code == 200
    job_id = _long_job(stack)
    port = stack.api_port
    streams = [_open_stream(port, job_id) for _ in range(STREAMS)]
    slow = [_connect(port) for _ in range(SLOW_HEADERS)]
    for sock in slow:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    stalled = [_connect(port) for _ in range(STALLED_BODIES)]
    for sock in stalled:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"weight": 1'
        )
    try:
        assert not any(map(_closed_by_server, streams + slow + stalled))
        # Everything is open at once: the API still answers, each request within the bound.
        url = stack.base_url
        assert requests.get(url + "/healthz", timeout=LIVENESS_SECONDS).status_code == 200
        answer = requests.post(url + "/predict", json=EMILY, timeout=LIVENESS_SECONDS)
        assert answer.status_code == 200 and answer.json()["predictions"][0]["gender"] == "F"

        # The slow clients are cut off by the server; the streams stay.
        deadline = time.monotonic() + CUT_OFF_DEADLINE
        open_slow = list(slow)
        while open_slow and time.monotonic() < deadline:
            for sock in open_slow:
                with contextlib.suppress(OSError):
                    sock.send(b"X")  # one more byte of the header line
            time.sleep(1.0)
            open_slow = [sock for sock in open_slow if not _closed_by_server(sock)]
        assert not open_slow, f"{len(open_slow)} slow-header clients were never cut off"
        for sock in stalled:
            sock.settimeout(CUT_OFF_DEADLINE)
            assert sock.recv(4096).startswith(b"HTTP/1.1 408")
        assert not any(map(_closed_by_server, streams))
        assert requests.get(url + "/healthz", timeout=LIVENESS_SECONDS).status_code == 200
    finally:
        for sock in streams + slow + stalled:
            sock.close()
        stack.delete(f"/jobs/{job_id}")
