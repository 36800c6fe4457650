"""Spreading keep-alive connections evenly over the API's gunicorn workers.

With gunicorn's threaded worker every worker process polls the one listening socket, and whoever
runs first accepts. When a client opens many connections at once (a connection pool, a load
balancer, wrk), one worker on a busy machine often accepts most of them before the other is
scheduled: 13 of 16 is common on two cores, sometimes all 16. The connections stay where they
were accepted, so requests on the crowded worker wait behind each other while the other worker
has little to do: latency goes up, and when one worker holds every connection, throughput falls
to a third. (nginx's `accept_mutex` exists for the same reason.)

`BalancedThreadWorker` is gunicorn's `ThreadWorker` with one rule added: a worker accepts only
while no other worker holds fewer connections. Each worker publishes its number of open
connections in a `ConnectionBoard`, a few integers in shared memory that the master creates
before the first fork (`pre_fork`) and clears for a worker that exited (`child_exit`). A worker
that holds more than another stops polling the listening socket and looks again every
`RECHECK_SECONDS`. After `MAX_DEFER_SECONDS` of deferring it takes the sibling it waited for to
be stuck, and accepts without looking at the board for `STUCK_SIBLING_SECONDS`, so a stuck or slow
sibling never leaves connections waiting, and logs that it did (INFO, `GAVE_UP_DEFERRING`).
A stopping worker leaves the board first.

The request path does not pay for it: a worker's event loop stores its count (8 bytes) once per
turn, and reads the others' counts only when it accepts a connection or while it defers.
Effect, measured with 16 connections opened at once against two workers on two cores: 13/3 was
the typical split before, 8/8 every time after (bench/README.md, "Third round").
"""

from __future__ import annotations

import mmap
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

#: Workers one board can hold at once (more during a reload); a worker beyond it just accepts.
SLOTS = 64
#: A slot no running worker holds.
FREE = -1
#: How often a deferring worker looks at the board again.
RECHECK_SECONDS = 0.002
#: A worker defers at most this long before it accepts anyway.
MAX_DEFER_SECONDS = 0.05
#: After a deferral ran out, the worker accepts without looking at the board for this long.
STUCK_SIBLING_SECONDS = 1.0
#: How the log line that a deferral ran out begins (at most once a STUCK_SIBLING_SECONDS).
GAVE_UP_DEFERRING = "gave up deferring"


class ConnectionBoard:
    """Open-connection counts of the workers, one 8-byte slot each, in shared anonymous memory.

    Created in the gunicorn master; forked workers share it. A slot is written by the master when
    it hands the slot out or takes it back, and in between by the worker holding it only.
    """

    def __init__(self, slots: int = SLOTS) -> None:
        self._memory = mmap.mmap(-1, 8 * slots)
        self._counts = memoryview(self._memory).cast("q")
        for slot in range(slots):
            self._counts[slot] = FREE
        self._size = slots

    def claim(self, taken: set[int]) -> int | None:
        """A slot not in `taken` (the slots of running workers), None if none is left.

        The slot stays FREE until its worker publishes a count from its event loop, so that no
        one defers to a worker still loading the app."""
        for slot in range(self._size):
            if slot not in taken:
                self._counts[slot] = FREE
                return slot
        return None

    def publish(self, slot: int, connections: int) -> None:
        self._counts[slot] = connections

    def release(self, slot: int) -> None:
        self._counts[slot] = FREE

    def fewest_elsewhere(self, slot: int) -> int | None:
        """The smallest count among the other workers on the board (None if there are none)."""
        fewest = None
        for other, count in enumerate(self._counts):
            if other != slot and count != FREE and (fewest is None or count < fewest):
                fewest = count
        return fewest


class BalancedThreadWorker(ThreadWorker):
    """gunicorn's threaded worker, accepting only while no other worker holds fewer
    connections (see the module's docstring)."""

    board: ConnectionBoard | None = None
    board_slot: int | None = None
    _deferring_since: float | None = None
    _unbalanced_until = 0.0

    def set_accept_enabled(self, enabled: bool) -> None:
        if not self.alive and self.board is not None and self.board_slot is not None:
            self.board.release(self.board_slot)  # stopping: others must not wait for us
            self.board = None
        super().set_accept_enabled(enabled and self._my_turn())

    def accept(self, listener: Any) -> None:
        super().accept(listener)
        self._publish()
        if not self._my_turn():
            super().set_accept_enabled(False)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        self._publish()
        if self._deferring_since is not None:
            timeout = min(timeout, RECHECK_SECONDS)
        super().wait_for_and_dispatch_events(timeout)

    def _publish(self) -> None:
        if self.board is not None and self.board_slot is not None:
            self.board.publish(self.board_slot, self.nr_conns)

    def _my_turn(self) -> bool:
        """Whether to accept now: no other worker holds fewer connections, or a deferral ran
        out less than STUCK_SIBLING_SECONDS ago."""
        fewest = None
        if self.board is not None and self.board_slot is not None:
            fewest = self.board.fewest_elsewhere(self.board_slot)
        if fewest is None or self.nr_conns <= fewest:
            self._deferring_since = None
            return True
        now = time.monotonic()
        if now < self._unbalanced_until:
            return True
        if self._deferring_since is None:
            self._deferring_since = now
        elif now - self._deferring_since >= MAX_DEFER_SECONDS:
            self._deferring_since = None
            self._unbalanced_until = now + STUCK_SIBLING_SECONDS
            self.log.info(
                "%s: a sibling took no connection for %.0f ms; accepting without the board for "
                "%.0f s",
                GAVE_UP_DEFERRING, MAX_DEFER_SECONDS * 1e3, STUCK_SIBLING_SECONDS,
            )  # fmt: skip
            return True
        return False


_BOARD: list[ConnectionBoard] = []


def hand_out_slot(server: Any, worker: Any) -> None:
    """gunicorn pre_fork hook (in the master): give a BalancedThreadWorker its board slot."""
    if not isinstance(worker, BalancedThreadWorker):
        return
    if not _BOARD:
        _BOARD.append(ConnectionBoard())
    taken = {other.board_slot for other in server.WORKERS.values() if other.board_slot is not None}
    worker.board = _BOARD[0]
    worker.board_slot = _BOARD[0].claim(taken)


def take_back_slot(server: Any, worker: Any) -> None:
    """gunicorn child_exit hook (in the master): free the slot of a worker that exited."""
    slot = getattr(worker, "board_slot", None)
    if _BOARD and slot is not None:
        _BOARD[0].release(slot)
