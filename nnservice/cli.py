"""The `nnservice` command: start the service (`up`, `api`, `worker`); client commands join the
group.

All configuration comes from environment variables (`nnservice.config.Settings`); the options
here only choose where the API listens and how many training processes a worker runs.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version

import click

from nnservice import client_commands
from nnservice.config import Settings


def _version() -> str:
    try:
        return version("nnservice")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0+unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="nnservice")
def main() -> None:
    """nnservice: a neural-network prediction service (API, training workers, model store)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the API listens on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def api(host: str, port: int) -> None:
    """Run the HTTP API (gunicorn, production settings) in the foreground."""
    from nnservice.gunicorn_conf import serve

    serve(Settings.from_env(), host, port)


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Training processes (default: NNSERVICE_WORKER_CONCURRENCY, else the number of CPUs).",
)
def worker(concurrency: int | None) -> None:
    """Run a Celery worker (prefork pool) that trains the queued jobs, in the foreground."""
    from worker.celery_app import app as celery_app

    settings = Settings.from_env()
    argv = [
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency or settings.worker_concurrency}",
        f"--loglevel={settings.log_level}",
        f"--hostname=nnservice-{os.getpid()}@%h",
        "--without-mingle",
        "--without-gossip",
    ]
    celery_app.worker_main(argv)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the API listens on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def up(host: str, port: int) -> None:
    """Run the whole stack: a broker (unless REDIS_URL is set), one worker and the API.

    Ctrl-C or SIGTERM stops the API and the worker, then the broker, and exits 0.
    """
    from nnservice.embedded_redis import EmbeddedRedis
    from nnservice.supervisor import Supervisor, spawn, wait_for_http

    settings = Settings.from_env()
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
            click.echo(f"nnservice: embedded broker at {broker.url} (data in {broker.data_dir})")
        supervisor.children["worker"] = spawn(["worker"], env)
        supervisor.children["api"] = spawn(["api", "--host", host, "--port", str(port)], env)
        url = f"http://{host}:{port}"
        if wait_for_http(f"{url}/healthz", list(supervisor.children.values())):
            click.echo(f"nnservice: API listening on {url} (Ctrl-C to stop)")
        dead = supervisor.wait()
        if dead is not None:
            code = supervisor.children[dead].returncode
            click.echo(f"nnservice: the {dead} exited unexpectedly ({code}); stopping", err=True)
            exit_code = 1
    finally:
        supervisor.stop_all()
        if broker is not None:
            broker.stop()
    click.echo("nnservice: stopped")
    sys.exit(exit_code)


client_commands.register(main)


if __name__ == "__main__":
    main()
