"""Production settings of the API's HTTP server (gunicorn), in one place for every way it is
started.

`nnservice api` (and through it `nnservice up` and docker-compose) runs `serve()`, so the API
behaves the same everywhere: `api_workers` processes with `api_threads` threads each, and a
graceful SIGTERM that lets in-flight requests finish (up to `GRACEFUL_TIMEOUT_SECONDS`) before
the workers exit.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from nnservice.config import Settings

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
        "worker_class": "gthread" if threads > 1 else "sync",
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "timeout": WORKER_TIMEOUT_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "proc_name": "nnservice-api",
    }


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
    ApiServer(settings, host, port).run()
