"""Each API worker process listens on a socket of its own (gunicorn's `reuse_port`), so the
kernel spreads new connections over the processes; and a second API on the same port is refused,
although the workers' sockets would let it share the port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest
import requests
from stack import child_pids

from nnservice.gunicorn_conf import refuse_a_port_in_use

CONNECTIONS = 32


def _access_pids(text: str, marker: str) -> Counter:
    """The worker pid of each access line whose path carries `marker`."""
    pids: Counter = Counter()
    for line in text.splitlines():
        if marker in line and line.startswith("{"):
            pids[json.loads(line)["process"]] += 1
    return pids


def test_connections_opened_at_once_land_on_every_worker_process(stack) -> None:
    workers = child_pids(stack.api.pid)
    assert len(workers) == 2, workers
    log = stack.root / "api.log"
    offset = log.stat().st_size
    marker = f"spread-{time.monotonic_ns()}"
    # A burst of keep-alive connections, then one request on each: with one shared listening
    # socket, the process that woke first took most of such a burst (60 of 64 here), or all.
    sockets = [socket.create_connection(("127.0.0.1", stack.api_port)) for _ in range(CONNECTIONS)]
    try:
        for number, sock in enumerate(sockets):
            # A path of its own (404) for each, as the access line has no query string.
            sock.sendall(f"GET /{marker}-{number} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        for sock in sockets:
            assert sock.recv(65536).startswith(b"HTTP/1.1 404")
    finally:
        for sock in sockets:
            sock.close()
    deadline = time.monotonic() + 10
    while sum((pids := _access_pids(log.read_bytes()[offset:].decode(), marker)).values()) < (
        CONNECTIONS
    ):
        assert time.monotonic() < deadline, pids
        time.sleep(0.05)
    # The kernel hashes each connection to one of the 2 sockets: fewer than 4 of 32 on one has a
    # chance of about 1 in 40,000.
    assert set(pids) == set(workers) and min(pids.values()) >= 4, pids


def test_a_second_api_on_the_same_port_is_refused(stack) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "nnservice.api_main", "--host", "127.0.0.1", "--port",
         str(stack.api_port)],
        env=stack.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert second.returncode != 0
    assert f"cannot listen on 127.0.0.1:{stack.api_port}" in second.stderr, second.stderr
    assert requests.get(stack.base_url + "/healthz", timeout=10).status_code == 200


def test_a_free_port_passes_and_a_listening_one_is_named() -> None:
    with socket.socket() as listening:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as the workers' do
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
        listening.listen()
        with pytest.raises(SystemExit, match=f"cannot listen on 127.0.0.1:{port}"):
            refuse_a_port_in_use("127.0.0.1", port)
    refuse_a_port_in_use("127.0.0.1", port)  # closed: free again
