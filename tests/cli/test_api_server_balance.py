"""Keep-alive connections are spread evenly over the API's gunicorn workers
(`nnservice.gunicorn_balance`), and a stuck worker never holds connections up.

The server is `nnservice.gunicorn_conf.ApiServer` with its production options (2 workers, 2
threads), serving a tiny WSGI app that answers with its process id, so the test sees which worker
accepted each connection. Without the balancing, one worker usually accepts most of a burst of
connections (13 of 16 is common on two cores).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from stack import child_pids  # tests/stack.py, loaded by tests/conftest.py

from nnservice.embedded_redis import free_port
from nnservice.gunicorn_balance import (
    FREE,
    GAVE_UP_DEFERRING,
    MAX_DEFER_SECONDS,
    STUCK_SIBLING_SECONDS,
    BalancedThreadWorker,
    ConnectionBoard,
    hand_out_slot,
    take_back_slot,
)

pytestmark = pytest.mark.timeout(120)

HOST = "127.0.0.1"
SERVER = textwrap.dedent(
    """
    import os, sys
    from nnservice.config import Settings
    from nnservice.gunicorn_conf import ApiServer

    def app(environ, start_response):
        body = str(os.getpid()).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    class PidServer(ApiServer):
        def load(self):
            return app

    PidServer(Settings.from_env(), "127.0.0.1", int(sys.argv[1])).run()
    """
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen]]:
    """ApiServer with 2 workers x 2 threads on a free port: (port, master process)."""
    port = free_port(HOST)
    env = {
        **os.environ,
        "NNSERVICE_API_WORKERS": "2",
        "NNSERVICE_API_THREADS": "2",
        "NNSERVICE_LOG_LEVEL": "INFO",  # with GAVE_UP_DEFERRING lines
        "NNSERVICE_STORE": str(tmp_path / "store"),
    }
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port)], env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 30
        while len(workers(process)) < 2 or not _both_serving(port):
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        # A worker that gave up deferring while the other was starting accepts without the board
        # for STUCK_SIBLING_SECONDS: let that run out before the test.
        time.sleep(STUCK_SIBLING_SECONDS + 0.1)
        yield port, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def workers(process: subprocess.Popen) -> list[int]:
    return child_pids(process.pid)


def _both_serving(port: int) -> bool:
    """Whether two connections opened together are answered by two workers. Until a worker runs
    its event loop its board slot is free, so the other takes every connection (nobody waits
    for a worker that is still starting); on a slow machine that can outlast the master's start."""
    pair: list[socket.socket] = []
    try:
        pair = open_connections(port, 2)
        return len({answering_pid(connection) for connection in pair}) == 2
    except OSError:  # not listening yet
        return False
    finally:
        for connection in pair:
            connection.close()


def open_connections(port: int, count: int) -> list[socket.socket]:
    """`count` connections opened at once (the kernel completes them; workers accept later)."""
    return [socket.create_connection((HOST, port), timeout=10) for _ in range(count)]


def answering_pid(connection: socket.socket) -> int:
    """Send one keep-alive request on `connection`; the process id the answer names."""
    connection.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int(headers[b"Content-Length"])
    while len(body) < length:
        body += connection.recv(4096)
    return int(body)


def test_a_burst_of_connections_is_split_evenly(
    server: tuple[int, subprocess.Popen], tmp_path: Path
) -> None:
    """Three bursts of 16 connections, all kept open: 8 each per burst, give or take a race, and
    24 each in the end. A worker that waited MAX_DEFER_SECONDS for its sibling in vain (the host
    did not run it in time) accepts without the board for a while, and logs that it did: only
    then may a try come out uneven, and the whole check runs again (three tries at most)."""
    port, process = server
    log = tmp_path / "server.log"
    for _ in range(3):
        logged_before = log.stat().st_size
        splits, difference = bursts_of_16(port, process)
        if all(max(split.values()) <= 10 for split in splits) and difference <= 4:
            return
        gave_up = GAVE_UP_DEFERRING in log.read_bytes()[logged_before:].decode(errors="replace")
        assert gave_up, f"uneven without a deferral running out: {splits}, {difference}"
        time.sleep(STUCK_SIBLING_SECONDS + 0.1)  # until the worker looks at the board again
    pytest.fail(f"a deferral ran out in every try: {splits}, {difference}")


def bursts_of_16(port: int, process: subprocess.Popen) -> tuple[list[Counter], int]:
    """Open three bursts of 16 connections and keep them open: each burst's Counter of answering
    workers, and the difference between the workers' totals; the connections are closed after."""
    held: list[socket.socket] = []
    splits: list[Counter] = []
    try:
        for _ in range(3):
            burst = open_connections(port, 16)
            held += burst
            splits.append(Counter(answering_pid(connection) for connection in burst))
            assert set(splits[-1]) <= set(workers(process))
        total = Counter(answering_pid(connection) for connection in held)
        per_worker = [total[pid] for pid in workers(process)]
        return splits, max(per_worker) - min(per_worker)
    finally:
        for connection in held:
            connection.close()


def test_a_stopped_worker_does_not_hold_connections_up(
    server: tuple[int, subprocess.Popen], tmp_path: Path
) -> None:
    port, process = server
    stopped, running = workers(process)
    os.kill(stopped, signal.SIGSTOP)
    held: list[socket.socket] = []
    try:
        # Each connection has a 10-s socket timeout: one left waiting for the stopped worker fails
        # here. The running worker defers to the stopped one (it holds fewer connections) once,
        # for at most MAX_DEFER_SECONDS, then takes every connection.
        held = open_connections(port, 8)
        assert [answering_pid(connection) for connection in held] == [running] * 8
        assert GAVE_UP_DEFERRING in (tmp_path / "server.log").read_text(errors="replace")
    finally:
        os.kill(stopped, signal.SIGCONT)
        for connection in held:
            connection.close()


def test_the_board_counts_only_running_workers() -> None:
    board = ConnectionBoard(slots=4)
    assert board.fewest_elsewhere(0) is None
    first, second = board.claim(set()), board.claim({0})
    assert (first, second) == (0, 1)
    board.publish(first, 5)
    board.publish(second, 3)
    assert board.fewest_elsewhere(first) == 3
    assert board.fewest_elsewhere(second) == 5
    board.release(second)
    assert board.fewest_elsewhere(first) is None
    assert board.claim({0, 1, 2, 3}) is None


class _Arbiter:
    def __init__(self) -> None:
        self.WORKERS: dict[int, object] = {}


def test_the_master_hands_out_and_takes_back_slots() -> None:
    arbiter = _Arbiter()
    first = BalancedThreadWorker.__new__(BalancedThreadWorker)
    hand_out_slot(arbiter, first)
    arbiter.WORKERS[1] = first
    second = BalancedThreadWorker.__new__(BalancedThreadWorker)
    hand_out_slot(arbiter, second)
    arbiter.WORKERS[2] = second
    assert first.board is second.board is not None
    assert first.board_slot != second.board_slot
    second.board.publish(second.board_slot, 7)
    assert first.board.fewest_elsewhere(first.board_slot) == 7

    take_back_slot(arbiter, arbiter.WORKERS.pop(2))  # exited: no longer deferred to
    assert first.board.fewest_elsewhere(first.board_slot) is None
    replacement = BalancedThreadWorker.__new__(BalancedThreadWorker)
    hand_out_slot(arbiter, replacement)
    assert replacement.board_slot == second.board_slot  # the freed slot...
    assert first.board.fewest_elsewhere(first.board_slot) is None  # ...not deferred to yet
    replacement.nr_conns = 0
    replacement._publish()  # what its event loop does once it serves
    assert first.board.fewest_elsewhere(first.board_slot) == 0
    take_back_slot(arbiter, replacement)
    take_back_slot(arbiter, first)
    assert first.board._counts[first.board_slot] == FREE


def test_a_worker_defers_to_a_sibling_with_fewer_connections_then_gives_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    board = ConnectionBoard(slots=2)
    worker = BalancedThreadWorker.__new__(BalancedThreadWorker)
    worker.log = logging.getLogger("balance-test")  # gunicorn's logger, in a real worker
    worker.board, worker.board_slot = board, board.claim(set())
    sibling = board.claim({worker.board_slot})
    worker.nr_conns = 3
    board.publish(sibling, 3)
    assert worker._my_turn()  # a tie: accept
    board.publish(sibling, 2)
    assert not worker._my_turn()  # the sibling holds fewer: defer...
    time.sleep(MAX_DEFER_SECONDS * 1.5)
    with caplog.at_level(logging.INFO, logger="balance-test"):
        assert worker._my_turn()  # ...but not for longer than MAX_DEFER_SECONDS
        assert worker._my_turn()  # and then not again for a while (the sibling may be stuck)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [GAVE_UP_DEFERRING]
