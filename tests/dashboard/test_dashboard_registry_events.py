"""GET /events in process (no broker needed: the stream only reads the events table).

The store is written as the API and the workers write it; each stream here lasts
`events_max_seconds` (0.5 s) and ends with `reconnect`, so a whole body can be read.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from stores import migrated

from foundation.events import EVENT_TYPES
from foundation.settings import Settings
from model_store import AliasMember, ModelStore
from model_store.times import now_us
from service import create_app
from service.event_tail import EventTail
from service.registry_events import registry_events

SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "activation": "sigmoid",
    "loss": "mse",
    "weights": [[[0.5, -0.25], [1.5, 0.75]], [[2.0, -1.0]]],
    "biases": [[0.1, -0.2], [0.3]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return migrated(
        Settings(
            redis_url="redis://127.0.0.1:9/0", store_path=tmp_path / "store", events_max_seconds=0.5
        )
    )


@pytest.fixture
def store(settings: Settings) -> ModelStore:
    return ModelStore.from_settings(settings)


@pytest.fixture
def client(settings: Settings) -> FlaskClient:
    return create_app(settings).test_client()


def save_dataset(store: ModelStore, offset: float) -> str:
    record, created = store.datasets.save(
        "four", [133 + offset, 160, 152, 120], [65, 72, 70, 60], [1.0, 0.0, 0.0, 1.0]
    )
    assert created
    return record.id


def messages(text: str) -> list[tuple[str | None, str, dict]]:
    """(id, event, data) of each message of a stream's text (comments and retry skipped)."""
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if "data" in fields:
            found.append((fields.get("id"), fields["event"], json.loads(fields["data"])))
    return found


def test_a_stream_from_the_oldest_sends_every_event_with_its_id_type_and_fields(
    client: FlaskClient, store: ModelStore, read_sse
) -> None:
    dataset_id = save_dataset(store, 0)
    model_id = store.models.save(SNAPSHOT)["id"]
    store.aliases.set("champion", [AliasMember(model_id, 1)], "ops")
    stored = store.events.after(0, 100)

    response = client.get("/events?last_event_id=0")

    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    text = response.get_data(as_text=True)
    assert text.startswith("retry: 2000\n\n")
    sent = messages(text)
    assert sent[:-1] == [(str(e.id), e.type, e.payload()) for e in stored]
    assert list(read_sse(text.split("\n"))) == [(event, data) for _, event, data in sent]
    assert [data.get("dataset_id") for _, _, data in sent[:1]] == [dataset_id]
    assert sent[2][2] == {
        "id": stored[2].id,
        "type": "alias_changed",
        "at": stored[2].at,
        "alias": "champion",
        "model_id": model_id,
        "split": None,
        "changed_by": "ops",
    }
    reconnect_id, reconnect, data = sent[-1]
    assert (reconnect_id, reconnect, data["last_event_id"]) == (None, "reconnect", stored[-1].id)


def test_last_event_id_resumes_after_it_and_the_header_wins_over_the_parameter(
    client: FlaskClient, store: ModelStore
) -> None:
    for offset in range(4):
        save_dataset(store, offset)
    ids = [event.id for event in store.events.after(0, 100)]

    by_parameter = client.get(f"/events?last_event_id={ids[1]}").get_data(as_text=True)
    by_header = client.get(
        "/events?last_event_id=0", headers={"Last-Event-ID": str(ids[2])}
    ).get_data(as_text=True)

    assert [int(i) for i, _, _ in messages(by_parameter)[:-1]] == ids[2:]
    assert [int(i) for i, _, _ in messages(by_header)[:-1]] == ids[3:]


def test_without_a_resume_point_only_later_events_are_sent(
    client: FlaskClient, store: ModelStore
) -> None:
    save_dataset(store, 0)
    response = client.get("/events", buffered=False)  # its start is fixed when it answers
    later = save_dataset(store, 1)

    sent = messages(response.get_data(as_text=True))

    assert [(event, data.get("dataset_id")) for _, event, data in sent] == [
        ("dataset_created", later),
        ("reconnect", None),
    ]


def test_types_filter_the_stream_and_an_unknown_type_is_422_listing_the_types(
    client: FlaskClient, store: ModelStore
) -> None:
    save_dataset(store, 0)
    store.jobs.create({"id": "j1", "hyperparameters": {}})
    store.jobs.transition("j1", ("queued",), state="cancelled")

    text = client.get("/events?last_event_id=0&types=job_state").get_data(as_text=True)
    assert [(e, d.get("state")) for _, e, d in messages(text)] == [
        ("job_state", "queued"),
        ("job_state", "cancelled"),
        ("reconnect", None),
    ]

    refused = client.get("/events?types=job_state,model_renamed")
    assert refused.status_code == 422
    (reason,) = refused.get_json()["errors"]["types"]
    assert "'model_renamed'" in reason and all(kind in reason for kind in EVENT_TYPES)
    assert client.get("/events?last_event_id=-1").status_code == 422
    bad_header = client.get("/events", headers={"Last-Event-ID": "soon"})
    assert bad_header.status_code == 422 and "Last-Event-ID" in bad_header.get_json()["errors"]


def test_a_pruned_resume_point_gets_one_reset_then_the_oldest_kept_event(
    client: FlaskClient, store: ModelStore
) -> None:
    for offset in range(4):
        save_dataset(store, offset)
    ids = [event.id for event in store.events.after(0, 100)]
    assert store.events.prune(now_us() + 1) == 3  # all but the newest

    after_first = messages(client.get(f"/events?last_event_id={ids[0]}").get_data(as_text=True))
    after_third = messages(client.get(f"/events?last_event_id={ids[2]}").get_data(as_text=True))
    oldest = messages(client.get("/events?last_event_id=0").get_data(as_text=True))

    assert [(i, e) for i, e, _ in after_first] == [
        (None, "reset"),
        (str(ids[3]), "dataset_created"),
        (None, "reconnect"),
    ]
    assert after_first[0][2] == {"oldest_id": ids[3]}
    assert (
        [e for _, e, _ in after_third]
        == [e for _, e, _ in oldest]
        == [
            "dataset_created",
            "reconnect",
        ]
    )


def test_event_reads_need_a_key_only_where_other_reads_do(tmp_path: Path) -> None:
    for public_reads, status in ((True, 200), (False, 401)):
        settings = Settings(
            redis_url="redis://127.0.0.1:9/0",
            store_path=tmp_path / f"store-{public_reads}",
            api_keys=("ops:s3cret",),
            public_reads=public_reads,
        )
        client = create_app(migrated(settings)).test_client()
        for path in ("/jobs", "/events"):
            response = client.get(path, buffered=False)
            assert response.status_code == status, path
            response.close()
        keyed = client.get("/events", headers={"Authorization": "Bearer s3cret"}, buffered=False)
        assert keyed.status_code == 200
        keyed.close()


def test_a_stream_behind_the_tail_reads_the_table_and_sees_every_event_once_in_order(
    store: ModelStore,
) -> None:
    """A tail of 3 events and pages of 5: a stream from the oldest of 12 events reads the
    table, joins the tail, and gets the 10 written meanwhile as well, each once, in order."""
    for offset in range(12):
        save_dataset(store, offset)
    tail = EventTail(store.events.after, store.events.newest_id, 0.01, batch=2, size=3)
    stream = registry_events(
        store,
        tail,
        last_event_id=0,
        types=None,
        max_seconds=60,
        poll_seconds=0.01,
        heartbeat_seconds=60,
        page_events=5,
    )

    def write_more() -> None:
        for offset in range(12, 22):
            save_dataset(store, offset)

    writer = threading.Thread(target=write_more)
    received: list[int] = []
    try:
        assert next(stream).startswith("retry:")
        writer.start()
        while len(received) < 22:
            received += [int(i) for i, _, _ in messages(next(stream))]
    finally:
        writer.join(30)
        stream.close()
    assert received == [event.id for event in store.events.after(0, 100)]
    assert tail.followed() == 0


def test_a_stream_beats_and_ends_with_reconnect_naming_where_to_resume(
    store: ModelStore,
) -> None:
    save_dataset(store, 0)
    tail = EventTail(store.events.after, store.events.newest_id, 0.01)
    chunks = list(
        registry_events(
            store,
            tail,
            last_event_id=0,
            types={"job_state"},
            max_seconds=0.2,
            poll_seconds=0.01,
            heartbeat_seconds=0,
        )
    )
    assert chunks[0].startswith("retry:") and ": heartbeat\n\n" in chunks
    assert [(e, d) for _, e, d in messages(chunks[-1])] == [
        ("reconnect", {"reason": "this stream ends after 0.2 s; open a new one to go on",
                       "last_event_id": store.events.newest_id()}),
    ]  # fmt: skip
