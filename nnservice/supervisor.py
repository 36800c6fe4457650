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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from nnservice.config import Settings
from nnservice.embedded_redis import EmbeddedRedis

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


@dataclass
class Supervisor:
    """Runs named child processes until a stop signal or an unexpected exit."""

    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    #: Processes whose exit also stops everything, but which the caller stops itself (the broker).
    watched: dict[str, subprocess.Popen] = field(default_factory=dict)
    stop_signal: int | None = None

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stop_signal = signum

    def install_signal_handlers(self) -> None:
        """SIGINT and SIGTERM ask the supervisor to stop everything."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def dead_child(self) -> str | None:
        """The name of a child (or watched process) that has exited, if any."""
        for name, process in {**self.watched, **self.children}.items():
            if process.poll() is not None:
                return name
        return None

    def wait_for_http(self, url: str, timeout: float = 60.0) -> bool:
        """Poll `url` until it answers 200; False on a stop signal, a dead child or time out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.stop_signal is None:
            if self.dead_child() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(POLL_SECONDS)
        return False

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


def run_stack(settings: Settings, host: str, port: int, echo: Callable[..., object]) -> int:
    """`nnservice up`: broker (unless REDIS_URL is set), worker and API until a stop; exit code.

    0 after SIGINT or SIGTERM, 1 if any of them exited on its own. `echo(message, err=False)`
    prints the status lines.
    """
    env = dict(os.environ)
    broker = None
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    exit_code = 0
    try:
        if settings.redis_url is None:
            broker = EmbeddedRedis(settings.store_path / "valkey", appendonly=True)
            broker.start()
            env["REDIS_URL"] = broker.url
            supervisor.watched["broker"] = broker.process
            echo(f"nnservice: embedded broker at {broker.url} (data in {broker.data_dir})")
        supervisor.children["worker"] = spawn(["worker"], env)
        supervisor.children["api"] = spawn(["api", "--host", host, "--port", str(port)], env)
        url = f"http://{host}:{port}"
        if supervisor.wait_for_http(f"{url}/healthz"):
            echo(f"nnservice: API listening on {url} (Ctrl-C to stop)")
        dead = supervisor.wait()
        if dead is not None:
            code = {**supervisor.watched, **supervisor.children}[dead].returncode
            echo(f"nnservice: the {dead} exited unexpectedly ({code}); stopping", err=True)
            exit_code = 1
    finally:
        supervisor.stop_all()
        if broker is not None:
            broker.stop()
    echo("nnservice: stopped")
    return exit_code
