"""Requests the HTTP server refuses before the app sees them, sent straight over sockets to the
real API (gunicorn): each gets a JSON answer in the API's error shape with its status (400, 408,
414, 431), each gets its access line, nothing in the log is a traceback, and the same worker
processes keep answering afterwards."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests
from gunicorn.config import Config
from gunicorn.http.errors import (
    ExpectationFailed,
    InvalidHeader,
    InvalidResponseHeader,
    UnsupportedTransferCoding,
)
from stack import child_pids

from nnservice.gunicorn_conf import KEEPALIVE_SECONDS
from nnservice.gunicorn_logging import status_of
from nnservice.gunicorn_refusals import refusal_for

HEADERS_1000 = b"".join(b"X-Header-%d: v\r\n" % number for number in range(1000))
#: name -> (request bytes, status, the part of the request the answer names in `errors`)
MALFORMED: dict[str, tuple[bytes, int, str]] = {
    "bad request line": (b"GARBAGE\r\n\r\n", 400, "request_line"),
    "negative Content-Length": (
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
        400,
        "Content-Length",
    ),
    "non-numeric Content-Length": (
        b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: ten\r\n\r\n",
        400,
        "Content-Length",
    ),
    "1,000 headers": (
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + HEADERS_1000 + b"\r\n",
        431,
        "headers",
    ),
    "100 KB header": (
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
        431,
        "headers",
    ),
    "100 KB request line": (
        b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
        414,
        "request_line",
    ),
    "bad chunk size": (
        b"POST /predict HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
        "body",
    ),
}


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def _read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; a reset fails the test (the answer lost)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    sock.close()
    return received


def _answer(raw: bytes) -> tuple[int, dict[str, str], dict]:
    """(status, headers, JSON body) of one HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    if len(body) != int(headers["Content-Length"]):
        return 0, headers, {}  # not all in yet
    return int(status_line.split()[1]), headers, json.loads(body)


def _access_statuses(log_text: str) -> list[int]:
    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    return [line["status"] for line in lines if line["logger"] == "gunicorn.access"]


@pytest.mark.fault
def test_refused_requests_are_json_errors_and_the_workers_live_on(stack) -> None:
    workers = child_pids(stack.api.pid)
    log = stack.root / "api.log"
    offset = log.stat().st_size
    port = stack.api_port
    # Timeouts run meanwhile: headers never finished (408), and a keep-alive connection that
    # served a request and then sat idle (closed without an answer, which a client could take
    # for the answer to its next request).
    slow = _connect(port)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    idle = _connect(port)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    first = b""
    while b"\r\n\r\n" not in first or _answer(first)[0] != 200:  # the whole answer is in
        first += idle.recv(65536)
    started = time.monotonic()

    expected = []
    for name, (request, status, part) in MALFORMED.items():
        sock = _connect(port)
        sock.sendall(request)
        code, headers, body = _answer(_read_to_end(sock))
        assert (code, headers["Content-Type"]) == (status, "application/json"), (name, body)
        assert set(body) == {"code", "status", "message", "errors"}, (name, body)
        assert body["code"] == status and body["message"], (name, body)
        assert list(body["errors"]) == [part], (name, body)
        expected.append(status)

    code, headers, body = _answer(_read_to_end(slow))
    assert time.monotonic() - started < 4 * KEEPALIVE_SECONDS  # cut off, not left open
    assert (code, headers["Content-Type"], list(body["errors"])) == (
        408,
        "application/json",
        ["headers"],
    ), body
    assert f"within {KEEPALIVE_SECONDS} s" in body["message"]
    expected.append(408)
    assert _read_to_end(idle) == b""

    deadline = time.monotonic() + 10
    while True:
        text = log.read_bytes()[offset:].decode(errors="replace")
        statuses = _access_statuses(text)
        if all(statuses.count(code) >= expected.count(code) for code in set(expected)):
            break
        assert time.monotonic() < deadline, f"access lines {statuses}, expected {expected}"
        time.sleep(0.1)
    assert "Traceback" not in text and "AttributeError" not in text, text[-3000:]
    for _ in range(6):  # new connections, spread over the workers
        assert requests.get(stack.base_url + "/healthz", timeout=10).status_code == 200
    assert child_pids(stack.api.pid) == workers


class _Answer:
    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


@pytest.mark.parametrize(
    ("response", "status"),
    [
        (_Answer(status_code=200, status="200 OK"), 200),
        (_Answer(status="431 Request Header Fields Too Large"), 431),  # no status_code
        (_Answer(status_code=None, status=404), 404),
        (_Answer(status="weird"), "weird"),
        (object(), None),
        (None, None),
    ],
)
def test_the_access_line_reads_any_response_object(response: object, status) -> None:
    assert status_of(response) == status


@pytest.mark.parametrize(
    ("error", "status", "errors"),
    [
        (UnsupportedTransferCoding("br"), 501, ["Transfer-Encoding"]),
        (ExpectationFailed("200-ok"), 417, ["Expect"]),
        (InvalidHeader("TRANSFER-ENCODING"), 400, ["Transfer-Encoding"]),
        (InvalidHeader("bare LF as line terminator"), 400, ["headers"]),
        (InvalidResponseHeader("X-Bad"), 500, []),  # the app's fault, not the client's
        (RuntimeError("secret detail"), 500, []),
    ],
)
def test_the_other_refusals(error: Exception, status: int, errors: list[str]) -> None:
    refusal = refusal_for(error, Config())
    body = json.loads(refusal.body())
    assert (body["code"], list(body["errors"])) == (status, errors), body
    assert "secret" not in body["message"]
    head = refusal.http_response().split(b"\r\n\r\n")[0].decode()
    assert head.startswith(f"HTTP/1.1 {status} ") and "Content-Type: application/json" in head
