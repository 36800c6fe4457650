"""`nnservice up`: the whole stack on one machine as child processes, stopped cleanly together.

Each child (the Celery worker and the API) runs `python -m nnservice.cli ...` in its own
session, so a terminal's Ctrl-C reaches only the supervisor, which then stops them in order:
SIGTERM to the API and the worker (in-flight requests finish, a running job checkpoints and goes
back on the queue), then the broker. If a child dies on its own, the supervisor stops the rest
and exits non-zero.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

#: How long the API and the worker get to stop after SIGTERM before they are killed.
STOP_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: the child gets SIGTERM if the supervisor itself dies, so nothing is orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(args: list[str], env: Mapping[str, str]) -> subprocess.Popen:
    """Start `python -m nnservice.cli <args>` in a new session that dies with this process."""
    return subprocess.Popen(
        [sys.executable, "-m", "nnservice.cli", *args],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )


def stop_process(process: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL the child's whole process group."""
    if process.poll() is None:
        process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for_http(url: str, processes: list[subprocess.Popen], timeout: float = 60.0) -> bool:
    """Poll `url` until it answers 200; False if a process exits or time runs out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(POLL_SECONDS)
    return False


@dataclass
class Supervisor:
    """Runs named child processes until a stop signal or an unexpected exit."""

    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    stop_signal: int | None = None

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stop_signal = signum

    def install_signal_handlers(self) -> None:
        """SIGINT and SIGTERM ask the supervisor to stop everything."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def dead_child(self) -> str | None:
        """The name of a child that has exited, if any."""
        for name, process in self.children.items():
            if process.poll() is not None:
                return name
        return None

    def wait(self) -> str | None:
        """Block until a stop signal (returns None) or a child exits (returns its name)."""
        while self.stop_signal is None:
            name = self.dead_child()
            if name is not None:
                return name
            time.sleep(POLL_SECONDS)
        return None

    def stop_all(self) -> None:
        """SIGTERM every child at once, then wait for each (killing stragglers)."""
        for process in self.children.values():
            if process.poll() is None:
                process.terminate()
        for process in self.children.values():
            stop_process(process)
