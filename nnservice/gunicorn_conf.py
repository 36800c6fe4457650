"""Production settings of the API's HTTP server (gunicorn), in one place for every way it is
started.

`nnservice api` (and through it `nnservice up` and docker-compose) runs `serve()`: `api_workers`
processes of gunicorn's gevent worker. Each connection is a greenlet, not a thread, so an idle
keep-alive connection, a slow client or a `GET /jobs/{id}/events` stream costs a few kilobytes
and no worker thread; gunicorn monkey-patches the process when the worker starts, so sockets,
sleeps and locks (Flask, Celery's publishing through kombu and redis-py, prometheus-client) yield
to other connections. Slow clients are cut off: request headers must arrive within
`KEEPALIVE_SECONDS` (gunicorn's gevent worker reads them under that timeout), a request body
within `service.body_limit.BODY_TIMEOUT_SECONDS`. docs/performance.md ("Slow clients") has the
measurements behind the choice. The worker class is gunicorn's gevent worker with one change
(`nnservice.gunicorn_worker.ApiWorker`): the requests gunicorn refuses itself (a malformed request
line or header, a request line or headers over its limits, headers that do not arrive in time)
are answered in the API's JSON error shape, not with gunicorn's HTML page.

Under saturation every connection gets its turn: after each answer the connection's greenlet
waits until the event loop has polled the other sockets (`gevent.idle()` in gunicorn's
`post_request` hook). Without it a keep-alive client that sends its next request at once finds
it already in the socket buffer, the greenlet reads it without yielding, and a few connections
are served back to back while the others and the listen queue wait: a p99 of seconds at 64
connections where the median is 2 ms. And every worker process gets its share of the
connections: each binds its own listening socket (`reuse_port`), so the kernel spreads new
connections over the processes' queues. With one shared socket, whichever process woke first took
a burst of connections, and keep-alive clients stayed where they landed: 60 of 64 connections on
one process and 4 on the other (a 12x spread in answers per connection), or all 64 on one while
the other idled. Because such a socket would share the port with any other instance that binds it
the same way, `serve()` first binds the port plainly, so a port in use is refused as before.
docs/performance.md ("Serving model") has the measurements.

The app is not preloaded: each worker process imports `service.wsgi`, which builds its own app
(its own database, object store and broker connections, never shared across a fork) and loads
the model it serves before the worker accepts a connection; a load that an outage prevents is
retried at each poll (`service.model_cache`).

SIGTERM lets in-flight requests finish (up to `GRACEFUL_TIMEOUT_SECONDS`). Logs are JSON lines
(`nnservice.gunicorn_logging.JsonLogger`). Metrics: every worker records into files in this
instance's metrics directory (prometheus-client's multiprocess mode), which `serve` empties at
start and removes at exit (with NNSERVICE_METRICS_DIR itself if it made it and it is empty); a
worker that exits is marked dead there, so its gauges go while its counts stay.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import gevent
from gunicorn.app.base import BaseApplication

from foundation.settings import Settings
from nnservice.gunicorn_logging import JsonLogger

#: The WSGI callable gunicorn serves (`app = create_app()`).
WSGI_APP = "service.wsgi:app"
#: gunicorn's gevent worker, answering the requests gunicorn refuses itself in the API's error
#: shape (`nnservice.gunicorn_worker`).
WORKER_CLASS = "nnservice.gunicorn_worker.ApiWorker"
#: SIGTERM: stop accepting, finish in-flight requests for up to this long, then exit.
GRACEFUL_TIMEOUT_SECONDS = 30
#: A worker whose event loop is silent for this long is killed and replaced.
WORKER_TIMEOUT_SECONDS = 60
#: Idle keep-alive connections close after this long, and a request's headers must arrive
#: within it (the gevent worker reads them under this timeout).
KEEPALIVE_SECONDS = 5
#: Open connections per worker process (greenlets); more wait in the listen queue. Room for
#: 1,000 open event streams on one process and the requests beside them
#: (bench/bench_registry_events.py).
WORKER_CONNECTIONS = 2000


def options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """gunicorn settings for the API bound to host:port."""
    return {
        "bind": f"{host}:{port}",
        "workers": max(1, settings.api_workers),
        "worker_class": WORKER_CLASS,
        "preload_app": False,  # each worker loads its own app and model (module docstring)
        "worker_connections": WORKER_CONNECTIONS,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "timeout": WORKER_TIMEOUT_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        "reuse_port": True,  # a listening socket per worker process (module docstring)
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "proc_name": "nnservice-api",
        "logger_class": JsonLogger,
        "child_exit": _worker_exited,
        "post_request": _let_other_connections_in,
        # gunicorn 25+ opens a control socket under ~/.gunicorn/ (shared by every run as the
        # same user); nnservice uses none and writes nothing outside its store and temp dir.
        "control_socket_disable": True,
    }


#: prometheus-client's variable: the directory its multiprocess mode records into.
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def metrics_directory(settings: Settings, host: str, port: int) -> Path:
    """This API instance's metrics directory: one per host and port, so instances never share."""
    return settings.metrics_dir / f"{host}-{port}"


def prepare_metrics_directory(directory: Path) -> None:
    """Create `directory`, drop a previous run's files, and have prometheus-client record there.

    Must run before any process imports prometheus_client (the workers import it with the app).
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROCESS_VARIABLE] = str(directory)


def _let_other_connections_in(worker: Any, request: Any, environ: Any, response: Any) -> None:
    """gunicorn post_request hook (in a worker, after the answer is sent): wait until the event
    loop has run every ready greenlet and polled the sockets, so the next request on this
    connection queues behind those already waiting on others, and new connections get accepted."""
    gevent.idle()


def _worker_exited(server: Any, worker: Any) -> None:
    """gunicorn child_exit hook (in the master): mark the worker dead for prometheus-client."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class ApiServer(BaseApplication):
    """gunicorn running `service.wsgi:app` with `options()`; no config file, no command line."""

    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self.settings_for_gunicorn = options(settings, host, port)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings_for_gunicorn.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from gunicorn.util import import_app

        return import_app(WSGI_APP)


def remove_metrics_directory(directory: Path, parent_created: bool) -> None:
    """Remove this instance's metrics directory, and its parent (NNSERVICE_METRICS_DIR) too when
    this instance created it and no other instance records there now."""
    shutil.rmtree(directory, ignore_errors=True)
    if parent_created:
        with contextlib.suppress(OSError):  # not empty: another instance runs; or gone already
            directory.parent.rmdir()


def refuse_a_port_in_use(host: str, port: int) -> None:
    """Exit naming host:port if anything listens there (another nnservice instance included).

    The workers' sockets set SO_REUSEPORT, which lets a second instance bind the same port and
    silently take a share of the connections; a socket without it cannot bind while any socket
    listens there (SO_REUSEADDR only lets it past connections in TIME_WAIT, as gunicorn's own
    sockets do).
    """
    family, kind, protocol, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise SystemExit(f"nnservice api: cannot listen on {host}:{port}: {error}") from None


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the API in this process until SIGTERM or SIGINT (blocking); a clean stop leaves no
    metrics directory behind."""
    refuse_a_port_in_use(host, port)
    directory = metrics_directory(settings, host, port)
    parent_created = not directory.parent.exists()
    prepare_metrics_directory(directory)
    server = ApiServer(settings, host, port)
    server.cfg.set("on_exit", lambda _arbiter: remove_metrics_directory(directory, parent_created))
    server.run()
