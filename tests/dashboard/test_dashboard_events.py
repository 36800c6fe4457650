"""GET /jobs/{id}/events in process (no broker needed: the stream only reads the job record).

A thread plays the worker, writing progress into the record as `worker.training_job` does.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from stores import migrated

from foundation.settings import Settings
from model_store import STATES, ModelStore
from service import create_app
from service.job_events import SINGLE_THREADED_MAX_SECONDS, job_events, stream_seconds


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return migrated(
        Settings(
            redis_url="redis://127.0.0.1:9/0", store_path=tmp_path / "store", events_max_seconds=20
        )
    )


@pytest.fixture
def store(settings: Settings) -> ModelStore:
    return ModelStore.from_settings(settings)


@pytest.fixture
def client(settings: Settings) -> FlaskClient:
    return create_app(settings).test_client()


def update_job(store: ModelStore, job_id: str, **fields: object) -> None:
    """Change the job's row as a worker would (any state may change)."""
    assert store.jobs.transition(job_id, STATES, **fields) is not None


def new_job(store: ModelStore, job_id: str = "job1", epochs: int = 30) -> str:
    store.jobs.create({"id": job_id, "hyperparameters": {"epochs": epochs}})
    return job_id


def test_unknown_job_is_404_in_the_usual_error_shape(client: FlaskClient) -> None:
    response = client.get("/jobs/no-such-job/events")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == 404 and body["errors"] == {"job_id": ["job 'no-such-job' not found"]}


def test_a_finished_job_gives_its_progress_then_end_and_the_stream_closes(
    client: FlaskClient, store: ModelStore, read_sse
) -> None:
    new_job(store)
    update_job(
        store,
        "job1",
        state="succeeded",
        progress={"epoch": 30, "epochs": 30, "loss": 0.01, "validation_loss": 0.02},
        model_id="m-job1",
        metrics={"train_accuracy": 1.0, "validation_accuracy": 0.5},
        finished_at="2026-11-25T08:00:00.000000Z",
    )

    response = client.get("/jobs/job1/events")

    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    text = response.get_data(as_text=True)
    assert text.startswith("retry: 2000\n\n")
    progress = {"job_id": "job1", "state": "succeeded", "epoch": 30, "epochs": 30}
    progress |= {"loss": 0.01, "validation_loss": 0.02}
    assert list(read_sse(text.split("\n"))) == [
        ("progress", progress),
        (
            "end",
            {
                **progress,
                "model_id": "m-job1",
                "metrics": {"train_accuracy": 1.0, "validation_accuracy": 0.5},
                "promotion": None,  # the gate's decision: none recorded for this job
                "stopped_epoch": None,  # no early stopping
                "best_epoch": None,
                "error": None,
                "finished_at": "2026-11-25T08:00:00.000000Z",
            },
        ),
    ]


def test_every_progress_change_is_an_event_until_the_job_fails(
    client: FlaskClient, store: ModelStore, read_sse
) -> None:
    new_job(store, epochs=3)
    received: queue.Queue[str] = queue.Queue()

    def worker() -> None:
        """Each write waits for the event of the previous one, so none is merged with another."""
        writes = [{"state": "running"}]
        writes += [{"progress": {"epoch": e, "epochs": 3, "loss": 1 / e}} for e in (1, 2, 3)]
        for fields in writes:
            received.get(timeout=10)
            update_job(store, "job1", **fields)
        received.get(timeout=10)
        update_job(store, "job1", state="failed", error="saving the model failed: disk full")

    thread = threading.Thread(target=worker)
    thread.start()
    response = client.get("/jobs/job1/events", buffered=False)
    chunks = []
    for chunk in response.response:
        chunks.append(chunk.decode() if isinstance(chunk, bytes) else chunk)
        if "event: progress" in chunks[-1]:
            received.put(chunks[-1])
    thread.join(10)

    events = list(read_sse("".join(chunks).split("\n")))
    assert [(name, data["state"], data["epoch"]) for name, data in events] == [
        ("progress", "queued", 0),
        ("progress", "running", 0),
        ("progress", "running", 1),
        ("progress", "running", 2),
        ("progress", "running", 3),
        ("progress", "failed", 3),
        ("end", "failed", 3),
    ]
    assert [data["loss"] for _, data in events[2:5]] == [1.0, 0.5, 1 / 3]
    assert events[-1][1]["error"] == "saving the model failed: disk full"
    ids = [line for line in "".join(chunks).split("\n") if line.startswith("id: ")]
    assert ids == [f"id: {n}" for n in range(1, 8)]


def test_a_write_that_changes_nothing_shown_is_no_event(store: ModelStore, read_sse) -> None:
    """With a heartbeat after every poll, the stream shows when it has looked again: a poll made
    after a write that changes the record but not its progress sends no event."""
    new_job(store, epochs=3)
    update_job(store, "job1", state="running", progress={"epoch": 1, "epochs": 3, "loss": 1.0})
    stream = job_events(store, "job1", max_seconds=10, poll_seconds=0.01, heartbeat_seconds=0)
    first = [next(stream) for _ in range(3)]
    assert first[0].startswith("retry:") and first[1].startswith("event: progress")
    assert first[2] == ": heartbeat\n\n"  # the first poll is over

    version = store.jobs.version("job1")
    update_job(store, "job1", progress={"epoch": 1, "epochs": 3, "loss": 1.0})  # no change shown
    assert store.jobs.version("job1") != version
    assert next(stream) == ": heartbeat\n\n"  # the next poll read the new version: no event

    update_job(store, "job1", state="failed", error="saving the model failed: disk full")
    events = list(read_sse("".join(stream).split("\n")))
    assert [(name, data["state"]) for name, data in events] == [
        ("progress", "failed"),
        ("end", "failed"),
    ]


def test_the_stream_sends_heartbeats_and_ends_with_reconnect_at_its_time_limit(
    store: ModelStore, read_sse
) -> None:
    new_job(store)

    chunks = list(
        job_events(store, "job1", max_seconds=0.5, poll_seconds=0.02, heartbeat_seconds=0.1)
    )

    assert ": heartbeat\n\n" in chunks
    events = list(read_sse("".join(chunks).split("\n")))
    assert [name for name, _ in events] == ["progress", "reconnect"]
    assert "open a new one" in events[-1][1]["reason"]


def test_a_job_deleted_while_followed_ends_the_stream(store: ModelStore, read_sse) -> None:
    new_job(store)
    stream = job_events(store, "job1", max_seconds=10, poll_seconds=0.02)
    assert next(stream).startswith("retry:")
    assert "progress" in next(stream)
    store.delete_job("job1")

    events = list(read_sse("".join(stream).split("\n")))

    assert events == [("end", {"job_id": "job1", "state": None, "error": events[0][1]["error"]})]
    assert "no longer exists" in events[0][1]["error"]


def test_single_threaded_servers_get_short_streams() -> None:
    assert stream_seconds(600, multithreaded=True) == 600
    assert stream_seconds(600, multithreaded=False) == SINGLE_THREADED_MAX_SECONDS
    assert stream_seconds(5, multithreaded=False) == 5


def test_openapi_documents_the_event_stream(client: FlaskClient) -> None:
    operation = client.get("/openapi.json").get_json()["paths"]["/jobs/{job_id}/events"]["get"]
    content = operation["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    assert "event: end" in content["text/event-stream"]["example"]
    assert "404" in operation["responses"]
