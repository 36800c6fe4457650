"""`--api-key` / NNSERVICE_API_KEY reach the API as a bearer token.

The real API (`service.create_app`) with NNSERVICE_API_KEYS set, served over HTTP by werkzeug on a
free port in this process; no broker is needed because promoting and listing never touch Redis.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from stores import migrated
from werkzeug.serving import make_server

from foundation.settings import Settings
from nnservice.cli import main
from service import create_app

KEY = "k-cli-test"
UNKNOWN_MODEL = "m-0123456789abcdef01234567"


@pytest.fixture(scope="module")
def keyed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of an API that wants `Authorization: Bearer k-cli-test` for writes."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_redis = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    store: Path = tmp_path_factory.mktemp("keyed") / "store"
    settings = Settings(redis_url=closed_redis, store_path=store, api_keys=(KEY,))
    server = make_server("127.0.0.1", 0, create_app(migrated(settings)), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [*args, "--url", url], env=env or {})


def test_a_write_without_a_key_shows_the_servers_401(keyed_url: str) -> None:
    result = run(keyed_url, "promote", UNKNOWN_MODEL)
    assert result.exit_code == 1
    assert "(HTTP 401)" in result.stderr


def test_the_key_from_the_option_or_the_environment_is_sent(keyed_url: str) -> None:
    by_option = run(keyed_url, "promote", UNKNOWN_MODEL, "--api-key", KEY)
    by_env = run(keyed_url, "promote", UNKNOWN_MODEL, env={"NNSERVICE_API_KEY": KEY})
    for result in (by_option, by_env):
        # Past the key check, the unknown model is what the server objects to.
        assert result.exit_code == 1
        assert "(HTTP 404)" in result.stderr
        assert UNKNOWN_MODEL in result.stderr


def test_a_wrong_key_is_refused_and_public_reads_need_none(keyed_url: str) -> None:
    wrong = run(keyed_url, "promote", UNKNOWN_MODEL, "--api-key", "nope")
    assert wrong.exit_code == 1 and "(HTTP 401)" in wrong.stderr
    listing = run(keyed_url, "models", "--json")
    assert listing.exit_code == 0, listing.output
    assert listing.stdout.strip() == "[]"
