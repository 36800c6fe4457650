"""`nnservice up`: the whole stack on one machine as supervised child processes.

The children are the embedded broker (`python -m nnservice.embedded_redis`, unless REDIS_URL is
set), one Celery worker and the API, each `python -m ...` in its own session, so a terminal's
Ctrl-C reaches only the supervisor. A child that exits on its own is started again after a
backoff (1 s, doubling up to `MAX_BACKOFF_SECONDS`, back to 1 s once it has run for
`STABLE_SECONDS`), with a log line; nothing else is stopped because of it. Ctrl-C or SIGTERM stops
the API and the worker (in-flight requests finish, a running job checkpoints and goes back on the
queue), then the broker.

Every child gets SIGTERM from the kernel when the supervisor dies, however it dies (Linux's
parent-death signal, `prctl(PR_SET_PDEATHSIG)`, set in the child before it runs), and the broker's
process stops its valkey-server on SIGTERM: nothing outlives `nnservice up`. A second
`nnservice up` on the same store refuses to start (`StoreInUse`, an exclusive `flock` on a file in
the store, which the kernel releases when the holder dies; a clean stop removes the file).

No library fitted: supervisord and circus are daemons with their own configuration and control
channel (and a SIGKILLed supervisord leaves its children running), honcho runs Procfiles without
restarting, and simpervisor (Jupyter's) restarts a child at once, without backoff, logging at debug
level; what is needed here is a loop of forty lines.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from foundation.settings import Settings
from nnservice.embedded_redis import free_port

#: How long the API and the worker get to stop after SIGTERM before they are killed.
STOP_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.2
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
#: A child that ran this long before exiting is restarted after the first backoff again.
STABLE_SECONDS = 30.0
LOCK_FILE = "nnservice-up.lock"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: the child gets SIGTERM when the supervisor dies, so nothing is orphaned."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def spawn(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen:
    """Start `python <argv>` in a new session that gets SIGTERM when this process dies."""
    return subprocess.Popen(
        [sys.executable, *argv],
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


class StoreInUse(RuntimeError):
    """Another `nnservice up` runs on this store."""


def lock_store(store_path: Path) -> IO[str]:
    """Hold an exclusive lock on `store_path` for as long as the returned file stays open (the
    kernel drops it when this process dies, whatever kills it); StoreInUse if another holds it.

    `unlock_store` removes the file on a clean stop. A process that opened it just before that
    would lock a removed file, so the lock counts only while the file locked is the one at the
    path; otherwise this tries again on the new one.
    """
    store_path.mkdir(parents=True, exist_ok=True)
    path = store_path / LOCK_FILE
    while True:
        lock = open(path, "a+")  # noqa: SIM115 - held open for the process's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            raise StoreInUse(
                f"the store {store_path} is in use by another `nnservice up` (pid {holder}); stop "
                "it first, or set NNSERVICE_STORE to another directory"
            ) from None
        if _same_file(lock, path):
            break
        lock.close()
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def _same_file(opened: IO[str], path: Path) -> bool:
    """True if `path` still names the file `opened` (it was neither removed nor replaced)."""
    try:
        at_path = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(opened.fileno())
    return (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)


def unlock_store(lock: IO[str], store_path: Path) -> None:
    """Remove the lock file, then release the lock (removed while still held, so no other
    `nnservice up` can be holding the file that goes)."""
    with contextlib.suppress(FileNotFoundError):
        (store_path / LOCK_FILE).unlink()
    lock.close()


@dataclass
class Child:
    """One supervised process: how to start it, and its restart schedule."""

    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF_SECONDS
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Runs named children until a stop signal, restarting any that exits."""

    env: dict[str, str]
    echo: Callable[..., object]
    children: list[Child] = field(default_factory=list)
    stop_signal: int | None = None

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stop_signal = signum

    def install_signal_handlers(self) -> None:
        """SIGINT and SIGTERM ask the supervisor to stop everything."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def start(self, name: str, argv: list[str]) -> Child:
        child = Child(name, argv)
        self.children.append(child)
        self._run(child)
        return child

    def _run(self, child: Child) -> None:
        child.process = spawn(child.argv, self.env)
        child.started_at = time.monotonic()
        child.restart_at = None

    def check_children(self) -> None:
        """Schedule a restart for each child that has exited; restart those that are due."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is None and child.process.poll() is not None:
                if now - child.started_at >= STABLE_SECONDS:
                    child.backoff = FIRST_BACKOFF_SECONDS
                child.restart_at = now + child.backoff
                self.echo(
                    f"nnservice: the {child.name} exited ({child.process.returncode}); "
                    f"restarting it in {child.backoff:g} s",
                    err=True,
                )
                child.backoff = min(child.backoff * 2, MAX_BACKOFF_SECONDS)
            elif child.restart_at is not None and now >= child.restart_at:
                self._run(child)
                self.echo(f"nnservice: restarted the {child.name} (pid {child.process.pid})")

    def wait_for(self, ready: Callable[[], bool], timeout: float) -> bool:
        """Poll `ready()` (supervising meanwhile) until true; False on a stop signal or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.stop_signal is None:
            if ready():
                return True
            self.check_children()
            time.sleep(POLL_SECONDS)
        return False

    def run_until_stopped(self) -> None:
        """Supervise until SIGINT or SIGTERM."""
        while self.stop_signal is None:
            self.check_children()
            time.sleep(POLL_SECONDS)

    def stop(self, names: list[str]) -> None:
        """SIGTERM the named children at once, then wait for each (killing stragglers)."""
        stopping = [child.process for child in self.children if child.name in names]
        for process in stopping:
            if process.poll() is None:
                process.terminate()
        for process in stopping:
            stop_process(process)


def http_ok(url: str) -> bool:
    """True if GET `url` answers 200 within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def redis_answers(host: str, port: int) -> bool:
    """True if a Redis-protocol server at host:port answers PING."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def run_stack(settings: Settings, host: str, port: int, echo: Callable[..., object]) -> int:
    """`nnservice up`: broker (unless REDIS_URL is set), worker and API, supervised until
    SIGINT or SIGTERM; the exit code (0, or 1 when the store is in use). `echo(message,
    err=False)` prints the status lines."""
    try:
        lock = lock_store(settings.store_path)
    except StoreInUse as exc:
        echo(f"nnservice: {exc}", err=True)
        return 1
    supervisor = Supervisor(dict(os.environ), echo)
    supervisor.install_signal_handlers()
    try:
        if settings.redis_url is None:
            data_dir, broker_port = settings.store_path / "valkey", free_port()
            argv = ["-m", "nnservice.embedded_redis", "--dir", str(data_dir)]
            supervisor.start("broker", [*argv, "--port", str(broker_port)])
            supervisor.env["REDIS_URL"] = f"redis://127.0.0.1:{broker_port}/0"
            if supervisor.wait_for(lambda: redis_answers("127.0.0.1", broker_port), 30.0):
                echo(f"nnservice: embedded broker at redis://127.0.0.1:{broker_port}/0 "
                     f"(data in {data_dir})")  # fmt: skip
        supervisor.start("worker", ["-m", "nnservice.cli", "worker"])
        api = ["-m", "nnservice.api_main", "--host", host, "--port", str(port)]
        supervisor.start("api", api)
        url = f"http://{host}:{port}"
        if supervisor.wait_for(lambda: http_ok(f"{url}/healthz"), 90.0):
            echo(f"nnservice: API listening on {url} (Ctrl-C to stop)")
        supervisor.run_until_stopped()
    finally:
        supervisor.stop(["api", "worker"])
        supervisor.stop(["broker"])
        unlock_store(lock, settings.store_path)
    echo("nnservice: stopped")
    return 0
