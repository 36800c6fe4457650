"""GET /events on the real stack: a client follows a second API process, which is killed and
started again while the registry changes; reconnecting with Last-Event-ID it sees every event
once and in order; a graceful stop ends the streams with `reconnect` at once. And a real
worker's job writes its states, its model and its promotion as events."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from stack import wait_until  # tests/stack.py

from model_store.datasets import content_id, dataset_columns
from nnservice.client import Client
from nnservice.embedded_redis import free_port
from service.job_events import STOPPING

from .conftest import SEED_ROWS

pytestmark = pytest.mark.timeout(300)
DEADLINE_SECONDS = 120.0
#: The last change: the dataset of these rows (its id is derived from them).
MARKER_ROWS = [
    {"weight": 150.5, "height": 66.5, "gender": "F"},
    {"weight": 181.5, "height": 71.5, "gender": "M"},
]
MARKER_ID = content_id(dataset_columns([150.5, 181.5], [66.5, 71.5], [1.0, 0.0]))


class SecondApi:
    """`nnservice api` on a port of its own, on the stack's store: started, killed, started."""

    def __init__(self, stack, root: Path) -> None:
        self.stack = stack
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**self.stack.env(), "NNSERVICE_API_WORKERS": "1"}
        with open(self.root / "second-api.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nnservice.cli", "api", "--port", str(self.port)],
                env=env,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            assert self.process.poll() is None, f"see {self.root / 'second-api.log'}"
            assert time.monotonic() < deadline, "the second API did not become ready"
            try:
                if requests.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL, the whole process group: a crash, its streams cut mid-way."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def close(self) -> None:
        """Killed, not stopped: a graceful stop would wait for the streams its clients left
        (a stream notices only when it next writes)."""
        if self.process is not None and self.process.poll() is None:
            self.kill()


def test_a_client_following_events_across_an_api_restart_sees_each_once_in_order(
    stack, tmp_path: Path
) -> None:
    second = SecondApi(stack, tmp_path)
    start = stack.store.events.newest_id()
    received: list[dict] = []
    failure: list[BaseException] = []
    finished = threading.Event()

    def follow() -> None:
        try:
            with Client(second.url) as client:
                events = client.registry_events(last_event_id=start)
                with contextlib.closing(events):  # closes the stream when done
                    for event in events:
                        received.append(event)
                        if event.get("dataset_id") == MARKER_ID:
                            return
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failure.append(error)
        finally:
            finished.set()

    def change(n: int) -> None:
        """A dataset created (through the session's API), then every other one deleted."""
        rows = [{"weight": 100.0 + n, "height": 60.0, "gender": "F"}, MARKER_ROWS[1]]
        response = stack.post("/datasets", json={"name": f"ev{n}", "rows": rows})
        assert response.status_code in (200, 201), response.text
        if n % 2:
            dataset_id = response.json()["id"]
            assert stack.delete(f"/datasets/{dataset_id}").status_code == 204

    reader = threading.Thread(target=follow, daemon=True)
    try:
        second.start()
        reader.start()
        for n in range(4):
            change(n)
        wait_until(lambda: len(received) >= 4 or failure, "the first events", DEADLINE_SECONDS)
        second.kill()  # the client's stream breaks mid-way
        for n in range(4, 8):
            change(n)  # while the second API is down
        second.start()  # the same port: the client reconnects with Last-Event-ID
        for n in range(8, 12):
            change(n)
        response = stack.post("/datasets", json={"name": "last", "rows": MARKER_ROWS})
        assert response.json()["id"] == MARKER_ID
        finished.wait(DEADLINE_SECONDS)

        # A graceful stop (SIGTERM) ends every stream at once with `reconnect`, naming where
        # to go on, and the process exits without waiting for the streams.
        with requests.get(f"{second.url}/events", stream=True, timeout=(10, 60)) as open_stream:
            assert open_stream.status_code == 200
            second.process.send_signal(signal.SIGTERM)
            lines = list(open_stream.iter_lines(decode_unicode=True))
        assert "event: reconnect" in lines, lines
        data = json.loads(lines[lines.index("event: reconnect") + 1].removeprefix("data: "))
        assert data == {"reason": STOPPING, "last_event_id": data["last_event_id"]}
        assert second.process.wait(DEADLINE_SECONDS) == 0
    finally:
        second.close()
    assert not failure, failure
    stored = [event.payload() for event in stack.store.events.after(start, 10_000)]
    upto = next(i for i, e in enumerate(stored) if e.get("dataset_id") == MARKER_ID)
    assert received == stored[: upto + 1]  # every event, once, in order, with all its fields
    kinds = {event["type"] for event in received}
    assert {"dataset_created", "dataset_deleted"} <= kinds


def test_a_training_job_writes_its_states_its_model_and_its_promotion(stack) -> None:
    start = stack.store.events.newest_id()
    body = {"rows": SEED_ROWS, "hyperparameters": {"epochs": 300, "seed": 937}, "promote": True}
    response = stack.post("/train", json=body)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert stack.wait_for_job(job_id)["state"] == "succeeded"

    model_id = f"m-{job_id}"
    mine = [
        (event.type, event.data)
        for event in stack.store.events.after(start, 10_000)
        if job_id in (event.data.get("job_id"), event.data.get("changed_by", "")[4:])
    ]
    assert [(kind, data.get("state")) for kind, data in mine] == [
        ("job_state", "queued"),
        ("job_state", "running"),
        ("model_created", None),
        ("alias_changed", None),
        ("job_state", "succeeded"),
    ]
    assert [data["model_id"] for _, data in mine[2:]] == [model_id] * 3
    assert mine[3][1] == {
        "alias": "latest",
        "model_id": model_id,
        "split": None,
        "changed_by": f"job {job_id}",
    }
    assert mine[4][1]["promotion"] == {"promoted": True, "alias": "latest"}
