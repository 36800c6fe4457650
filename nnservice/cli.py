"""The `nnservice` command: start the service (`up`, `api`, `worker`); client commands join the
group.

All configuration comes from environment variables (`foundation.settings.Settings`); the options
here only choose where the API listens and how many training processes a worker runs. `api`
hands its process over to the API's own entry point (`nnservice.api_main`), which patches the
standard library for gevent before it imports anything else.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version

import click

from foundation.settings import Settings
from nnservice import (
    alias_commands,
    batch_commands,
    client_commands,
    store_commands,
    sweep_commands,
)
from nnservice.example_data import example_data


def _version() -> str:
    try:
        return version("nnservice")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0+unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="nnservice")
@click.option(
    "--url",
    metavar="URL",
    help="Base URL of the API, for the client commands (also accepted after the command) "
    "[env var: NNSERVICE_URL; default: http://127.0.0.1:8000].",
)
@click.option(
    "--api-key",
    metavar="KEY",
    help="API key for the client commands (also accepted after the command) "
    "[env var: NNSERVICE_API_KEY].",
)
@click.pass_context
def main(ctx: click.Context, url: str | None, api_key: str | None) -> None:
    """nnservice: a neural-network prediction service (API, training workers, model store)."""
    ctx.meta[client_commands.GROUP_OPTIONS] = {"url": url, "api_key": api_key}


def client_url(host: str, port: int) -> str:
    """The URL a client on this machine reaches the API at, listening on `host`:`port` (a
    wildcard address is reached on the loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the API listens on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def api(ctx: click.Context, host: str, port: int) -> None:
    """Run the HTTP API (gunicorn, production settings) in the foreground."""
    # The API listens where --host/--port say: a client's --url would only mislead.
    if any(ctx.meta.get(client_commands.GROUP_OPTIONS, {}).values()):
        raise click.UsageError("--url and --api-key are for the client commands, not for 'api'")
    Settings.from_env()  # a bad variable is reported here, before the hand-over
    command = [sys.executable, "-m", "nnservice.api_main", "--host", host, "--port", str(port)]
    os.execv(sys.executable, command)


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Training processes (default: NNSERVICE_WORKER_CONCURRENCY, else the number of CPUs).",
)
def worker(concurrency: int | None) -> None:
    """Run a Celery worker (prefork pool) that trains the queued jobs, in the foreground."""
    from foundation.logs import configure_logging
    from worker.celery_app import app as celery_app

    settings = Settings.from_env()
    store_commands.require_current_schema(settings)
    configure_logging(settings.log_level)  # JSON from the first line, Celery's warnings included
    argv = [
        "--quiet",  # no banner: every line the worker writes is JSON (worker.logging_setup)
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

    It first prints the `export NNSERVICE_URL=...` line that points the client at it. The
    database is migrated first (as `nnservice db upgrade` does). Ctrl-C or SIGTERM stops the API
    and the worker, then the broker, and exits 0.
    """
    from nnservice.supervisor import run_stack

    # First, so it is on screen before anything else: the line to paste in the client's shell.
    click.echo("nnservice: in another shell, point the client and $URL at this stack with:")
    click.echo(f"export NNSERVICE_URL={client_url(host, port)}")
    settings = Settings.from_env()
    store_commands.upgrade_database(settings)
    sys.exit(run_stack(settings, host, port, click.echo))


client_commands.register(main)
main.add_command(alias_commands.alias)
main.add_command(batch_commands.batch_predict)
main.add_command(sweep_commands.sweep)
store_commands.register(main)
main.add_command(example_data)


if __name__ == "__main__":
    main()
