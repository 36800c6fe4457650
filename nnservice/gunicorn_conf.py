"""Production settings of the API's HTTP server (gunicorn), in one place for every way it is
started.

`nnservice api` (and through it `nnservice up` and docker-compose) runs `serve()`, so the API
behaves the same everywhere: `api_workers` processes with `api_threads` threads each, and a
graceful SIGTERM that lets in-flight requests finish (up to `GRACEFUL_TIMEOUT_SECONDS`) before
the workers exit.

The defaults (2 workers, 2 threads: gunicorn's gthread worker, keep-alive connections, spread
evenly over the workers by `nnservice.gunicorn_balance`) were
chosen with bench/bench_predict_http.py against a bare Flask endpoint under the same settings:
single-row /predict reached 0.85-0.91x the bare endpoint's requests/s with 2 threads, 0.73x with
sync workers (1 thread) and 0.76-0.78x with 4 threads, and a server-sent event stream then holds
one thread instead of a whole process. Sync workers had the steadier p99 (bench/README.md).
Re-checked in the third round with both servers under each setting: 2 x 2 gave the most requests/s
for both, ahead of 3 x 2, 4 x 2 and 4 processes x 1 thread.

Logs are JSON lines (`nnservice.gunicorn_logging.JsonLogger`). Metrics: every worker records into
files in this instance's metrics directory (prometheus-client's multiprocess mode), which `serve`
empties at start and removes at exit; a worker adds the counts it has not flushed yet as it
exits (`service.metrics.flush`) and is then marked dead there, so its gauges go while its counts
stay.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from nnservice.config import Settings
from nnservice.gunicorn_balance import BalancedThreadWorker, hand_out_slot, take_back_slot
from nnservice.gunicorn_logging import JsonLogger

#: The WSGI callable gunicorn serves (`app = create_app()`).
WSGI_APP = "service.wsgi:app"
#: SIGTERM: stop accepting, finish in-flight requests for up to this long, then exit.
GRACEFUL_TIMEOUT_SECONDS = 30
#: A worker silent for this long is killed and replaced (a 10,000-row predict takes milliseconds).
WORKER_TIMEOUT_SECONDS = 60
KEEPALIVE_SECONDS = 5


def options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """gunicorn settings for the API bound to host:port."""
    threads = max(1, settings.api_threads)
    return {
        "bind": f"{host}:{port}",
        "workers": max(1, settings.api_workers),
        "threads": threads,
        "worker_class": BalancedThreadWorker if threads > 1 else "sync",
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "timeout": WORKER_TIMEOUT_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "proc_name": "nnservice-api",
        "logger_class": JsonLogger,
        "pre_fork": hand_out_slot,
        "child_exit": _worker_exited,
        "worker_exit": _flush_worker_metrics,
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


def _flush_worker_metrics(server: Any, worker: Any) -> None:
    """gunicorn worker_exit hook (in the exiting worker): record the counts not yet flushed."""
    metrics = sys.modules.get("service.metrics")  # absent when the app is not nnservice's
    if metrics is not None:
        metrics.flush()


def _worker_exited(server: Any, worker: Any) -> None:
    """gunicorn child_exit hook (in the master): free the worker's connection-board slot and mark
    it dead for prometheus-client."""
    take_back_slot(server, worker)
    if os.environ.get(MULTIPROCESS_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class ApiServer(BaseApplication):
    """gunicorn running `service.wsgi:app` with `options()`; no config file, no command line."""

    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self._options = options(settings, host, port)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from gunicorn.util import import_app

        return import_app(WSGI_APP)


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the API in this process until SIGTERM or SIGINT (blocking)."""
    directory = metrics_directory(settings, host, port)
    prepare_metrics_directory(directory)
    server = ApiServer(settings, host, port)
    server.cfg.set("on_exit", lambda _arbiter: shutil.rmtree(directory, ignore_errors=True))
    server.run()
