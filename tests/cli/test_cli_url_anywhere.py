"""The client's `--url` and `--api-key` work before the command and after it, and `nnservice up`
prints the line that points the client at the port it chose.

A small real HTTP server (the standard library's) stands in for the API: it answers every GET
with an empty JSON list and records each request's path and Authorization header, so the test
sees where the client went and which key it sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner, Result

from nnservice.cli import client_url, main


class Recorder(ThreadingHTTPServer):
    """A server that answers `[]` and keeps (path, Authorization) of each request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        body = json.dumps([]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads `seen`."""


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    """Two recording servers: where the client should go and where it should not."""
    started = (Recorder(), Recorder())
    threads = [threading.Thread(target=each.serve_forever, daemon=True) for each in started]
    for thread in threads:
        thread.start()
    try:
        yield started
    finally:
        for each in started:
            each.shutdown()
            each.server_close()
        for thread in threads:
            thread.join()


def run(*args: str, **env: str) -> Result:
    clean = {"NNSERVICE_URL": None, "NNSERVICE_API_KEY": None, **env}
    return CliRunner().invoke(main, list(args), env=clean)


@pytest.mark.parametrize(
    "where", ["before", "after"], ids=["nnservice --url X models", "nnservice models --url X"]
)
def test_url_and_key_before_or_after_the_command(servers, where: str) -> None:
    wanted, other = servers
    options = ["--url", wanted.url, "--api-key", "k-1"]
    argv = [*options, "models"] if where == "before" else ["models", *options]
    result = run(*argv, NNSERVICE_URL=other.url, NNSERVICE_API_KEY="from-env")
    assert result.exit_code == 0, result.output
    assert [auth for path, auth in wanted.seen if path.startswith("/models")] == ["Bearer k-1"]
    assert other.seen == []  # the command line beats the environment, wherever it stands


def test_after_the_command_beats_before_it(servers) -> None:
    wanted, other = servers
    result = run("--url", other.url, "--api-key", "k-1", "jobs", "--url", wanted.url,
                 "--api-key", "k-2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [auth for _, auth in wanted.seen] == ["Bearer k-2"]
    assert other.seen == []


def test_the_environment_still_works_without_options(servers) -> None:
    wanted, _ = servers
    result = run("datasets", NNSERVICE_URL=wanted.url, NNSERVICE_API_KEY="k-3")
    assert result.exit_code == 0, result.output
    assert [auth for _, auth in wanted.seen] == ["Bearer k-3"]


def test_api_refuses_the_client_options() -> None:
    """`nnservice --url X api` would hide `api` from the gevent patch: a usage error instead."""
    result = run("--url", "http://127.0.0.1:1", "api")
    assert result.exit_code == 2
    assert "--url and --api-key are for the client commands" in result.output


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:9000"),
        ("0.0.0.0", "http://127.0.0.1:9000"),
        ("192.0.2.7", "http://192.0.2.7:9000"),
        ("::", "http://[::1]:9000"),
        ("::1", "http://[::1]:9000"),
    ],
)
def test_the_url_up_prints_for_the_client(host: str, url: str) -> None:
    assert client_url(host, 9000) == url
