"""SIGTERM to the API finishes the requests in flight (issue 4, item 5, API side).

A private `nnservice api` (gunicorn) gets a large request whose body is only half sent; once a
gunicorn worker has accepted the connection, the master gets SIGTERM, and only after gunicorn has
logged it does the rest of the body go out. The request must still be answered 200 in full, the
server must exit cleanly, and the port must then refuse connections (gevent workers), for a
10,000-row predict and a 10,000-row upload.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest
import requests

from .conftest import SNAPSHOT

pytestmark = [pytest.mark.fault, pytest.mark.timeout(120)]

ROWS = 10_000


def _predict_body() -> tuple[str, str, bytes]:
    instances = [{"weight": 100 + i % 150, "height": 55 + i % 25} for i in range(ROWS)]
    return "/predict", "application/json", json.dumps({"instances": instances}).encode()


def _upload_body() -> tuple[str, str, bytes]:
    lines = [f"{100 + i % 150},{55 + i % 25},{'FM'[i % 2]}" for i in range(ROWS)]
    return (
        "/datasets?name=sigterm",
        "text/csv",
        ("weight,height,gender\n" + "\n".join(lines)).encode(),
    )


def _socket_inode(local_port: int, remote_port: int) -> int:
    """Inode of the established TCP socket 127.0.0.1:local_port <-> :remote_port (0 while it
    waits in the listen queue, before any process has accepted it)."""
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            ports = (int(local.split(":")[1], 16), int(remote.split(":")[1], 16))
            if state == "01" and ports == (local_port, remote_port):
                return inode
    return 0


def _holder(pids: list[int], inode: int) -> int | None:
    """Which of `pids` has the socket `inode` open."""
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def _wait_until_accepted(api, client: socket.socket, timeout: float = 30.0) -> int:
    """The pid of the gunicorn worker that accepted `client`'s connection."""
    client_port = client.getsockname()[1]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inode = _socket_inode(api.port, client_port)
        holder = _holder(api.worker_pids(), inode) if inode else None
        if holder is not None:
            return holder
        time.sleep(0.02)
    raise TimeoutError("no gunicorn worker accepted the connection")


def _wait_for_log(api, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in api.log_text():
        assert time.monotonic() < deadline, f"{text!r} not in {api.log}"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("name", "request_body"),
    [("predict", _predict_body), ("upload", _upload_body)],
    ids=["10000-row-predict", "10000-row-upload"],
)
def test_sigterm_finishes_the_request_in_flight_then_refuses(
    api_process, tmp_path: Path, name: str, request_body
) -> None:
    api = api_process(
        f"api-sigterm-{name}.log", NNSERVICE_STORE=str(tmp_path), NNSERVICE_API_WORKERS="2"
    )
    model_id = requests.post(api.url("/models"), json=SNAPSHOT, timeout=10).json()["id"]
    assert requests.post(api.url(f"/models/{model_id}/promote"), timeout=10).status_code == 200
    path, content_type, body = request_body()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{api.port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    half = len(body) // 2

    with socket.create_connection(("127.0.0.1", api.port), timeout=60) as client:
        client.sendall(head + body[:half])
        _wait_until_accepted(api, client)
        api.process.send_signal(signal.SIGTERM)
        _wait_for_log(api, "Handling signal: term")
        client.sendall(body[half:])
        response = http.client.HTTPResponse(client)
        response.begin()
        answer = json.loads(response.read())

    assert response.status == (200 if path == "/predict" else 201), answer
    if path == "/predict":
        assert answer["model_id"] == model_id and len(answer["predictions"]) == ROWS
    else:
        assert answer["rows"] == ROWS
    assert api.process.wait(timeout=60) == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", api.port), timeout=5).close()
