"""The registry's events: each change writes its event in its own transaction (a change that
fails leaves none, an event that cannot be written undoes its change), ids commit in id order
even with concurrent writers, and pruning keeps a suffix of the ids."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from foundation.events import EventType
from foundation.states import SweepState
from model_store import AliasMember, InUse, ModelStore, NotFound, tables
from model_store.times import now_us

WRITERS, WRITES = 4, 15
#: What a sweep's events read from its spec.
SWEEP_SPEC = {"metric": "validation_loss", "promote": "best", "promote_alias": "latest"}


def events_after(store: ModelStore, last_id: int = 0) -> list[tuple[str, dict]]:
    """(type, data) of every event after `last_id`, oldest first."""
    return [(event.type, event.data) for event in store.events.after(last_id, 10_000)]


def save_dataset(store: ModelStore, offset: float = 0.0) -> str:
    record, _ = store.datasets.save(
        "four", [133 + offset, 160, 152, 120], [65, 72, 70, 60], [1.0, 0.0, 0.0, 1.0]
    )
    return record.id


def test_every_change_of_the_registry_writes_its_event_with_its_fields(
    store: ModelStore, make_snapshot, new_job
) -> None:
    dataset_id = save_dataset(store)
    save_dataset(store)  # the same rows again: nothing created, no event
    new_job(store, "j1", dataset_id=dataset_id)
    claim = store.jobs.claim("j1", "host:1:a", lease_seconds=30, max_attempts=3)
    assert claim.outcome == "claimed"
    assert store.jobs.heartbeat("j1", "host:1:a", progress={"epoch": 1}) is False  # no event
    saved = store.models.save(make_snapshot(job_id="j1", id="m-j1"))
    model_id, trained_on = saved["id"], saved["training"]["dataset_id"]
    store.models.promote(model_id, "job j1", verified=True)
    promotion = {"promoted": True, "alias": "latest"}
    store.jobs.finish("j1", "host:1:a", "succeeded", model_id=model_id, promotion=promotion)
    other = store.models.save(make_snapshot(job_id="other"))["id"]
    store.aliases.set("canary", [AliasMember(model_id, 9), AliasMember(other, 1)], "ops")
    store.aliases.remove("canary", "ops")
    store.models.delete(other)
    new_job(store, "j2", dataset_id=dataset_id)
    store.jobs.transition("j2", ("queued",), state="cancelled")
    store.sweeps.create("sw-1", dataset_id, SWEEP_SPEC, "grid", 1, 1)
    swept = {"promoted": False, "alias": "latest", "reason": "r", "model_id": model_id}
    store.sweeps.end("sw-1", SweepState.SUCCEEDED, "j1", swept, model_id=model_id, value=0.25)
    assert store.sweeps.end("sw-1", SweepState.FAILED, None, None) is None  # ended: no event
    store.datasets.delete(dataset_id)

    split = [{"model_id": model_id, "weight": 9}, {"model_id": other, "weight": 1}]
    job = {"model_id": None, "promotion": None}
    sweep = {"metric": "validation_loss", "best_job_id": None, "model_id": None, "value": None}
    sweep["promotion"] = None
    assert events_after(store) == [
        ("dataset_created", {"dataset_id": dataset_id}),
        ("job_state", {"job_id": "j1", "state": "queued", **job}),
        ("job_state", {"job_id": "j1", "state": "running", **job}),
        ("model_created", {"model_id": model_id, "dataset_id": trained_on, "job_id": "j1"}),
        (
            "alias_changed",
            {"alias": "latest", "model_id": model_id, "split": None, "changed_by": "job j1"},
        ),
        (
            "job_state",
            {"job_id": "j1", "state": "succeeded", "model_id": model_id, "promotion": promotion},
        ),
        ("model_created", {"model_id": other, "dataset_id": trained_on, "job_id": "other"}),
        (
            "alias_changed",
            {"alias": "canary", "model_id": model_id, "split": split, "changed_by": "ops"},
        ),
        (
            "alias_changed",
            {"alias": "canary", "model_id": None, "split": None, "changed_by": "ops"},
        ),
        ("model_deleted", {"model_id": other}),
        ("job_state", {"job_id": "j2", "state": "queued", **job}),
        ("job_state", {"job_id": "j2", "state": "cancelled", **job}),
        ("sweep_state", {"sweep_id": "sw-1", "state": "running", **sweep}),
        (
            "sweep_state",
            {
                "sweep_id": "sw-1",
                "state": "succeeded",
                "metric": "validation_loss",
                "best_job_id": "j1",
                "model_id": model_id,
                "value": 0.25,
                "promotion": swept,
            },
        ),
        ("dataset_deleted", {"dataset_id": dataset_id}),
    ]
    assert {kind for kind, _ in events_after(store)} == set(EventType)
    listed = store.events.after(0, 100)
    assert [event.id for event in listed] == sorted({event.id for event in listed})
    assert listed[0].payload() == {
        "id": listed[0].id,
        "type": "dataset_created",
        "at": listed[0].at,
        "dataset_id": dataset_id,
    }
    assert listed[0].at.endswith("Z") and listed[0].at <= listed[-1].at
    assert [e.type for e in store.events.after(listed[2].id, 100, {"job_state"})] == [
        "job_state"
    ] * 3


def test_the_reaper_and_a_lost_claim_write_their_job_states(store: ModelStore, new_job) -> None:
    new_job(store, "lost")
    store.jobs.claim("lost", "host:1:a", lease_seconds=30, max_attempts=1)
    mark = store.events.newest_id()
    repairs = store.jobs.reap(lease_seconds=-1, max_attempts=5, resend_after=3600)  # all lost
    assert repairs.requeued == ["lost"]
    store.jobs.claim("lost", "host:2:b", lease_seconds=30, max_attempts=5)
    store.jobs.release("lost", "host:2:b")  # a graceful shutdown hands it back
    store.jobs.claim("lost", "host:3:c", lease_seconds=30, max_attempts=5)
    store.jobs.reap(lease_seconds=-1, max_attempts=1, resend_after=3600)  # gives up
    assert [data["state"] for _, data in events_after(store, mark)] == [
        "queued",
        "running",
        "queued",
        "running",
        "failed",
    ]


def test_a_change_that_fails_writes_no_event(store: ModelStore, make_snapshot, new_job) -> None:
    model_id = store.models.save(make_snapshot(job_id="held"))["id"]
    store.models.promote(model_id)
    new_job(store, "done")
    store.jobs.transition("done", ("queued",), state="cancelled")
    mark = store.events.newest_id()

    with pytest.raises(InUse):
        store.models.delete(model_id)  # latest names it
    with pytest.raises(NotFound):
        store.aliases.set("canary", [AliasMember("m-missing", 1)])
    with pytest.raises(NotFound):
        store.aliases.remove("never-set")
    assert store.jobs.transition("done", ("queued",), state="running") is None
    with pytest.raises(NotFound):
        store.datasets.delete("ds-000000000000000000000000")

    assert store.events.newest_id() == mark


def test_an_event_that_cannot_be_written_undoes_its_change(
    store: ModelStore, make_snapshot
) -> None:
    """No change without its event: with the events table gone, every change fails whole."""
    model_id = store.models.save(make_snapshot(job_id="kept"))["id"]
    with store.engine.begin() as connection:
        tables.events.drop(connection)
    try:
        with pytest.raises(sa.exc.DBAPIError):
            save_dataset(store)
        with pytest.raises(sa.exc.DBAPIError):
            store.models.promote(model_id)
        with pytest.raises(sa.exc.DBAPIError):
            store.jobs.create({"id": "unseen", "hyperparameters": {}})
        with pytest.raises(sa.exc.DBAPIError):
            store.models.delete(model_id)
    finally:  # the PostgreSQL database is shared by this directory's tests
        with store.engine.begin() as connection:
            tables.events.create(connection)

    assert store.datasets.list().items == []
    assert store.models.latest_id() is None
    with pytest.raises(NotFound):
        store.jobs.get("unseen")
    assert store.models.exists(model_id)


def test_concurrent_writers_commit_their_events_in_id_order(
    store_locations: tuple[str, str], make_snapshot
) -> None:
    """Writers in threads set aliases while a reader follows the table by id, as the API's tail
    does: it never finds an id below one it has seen, so it misses none."""
    stores = [ModelStore(*store_locations) for _ in range(WRITERS + 1)]
    model_id = stores[0].models.save(make_snapshot(job_id="served"))["id"]
    start = stores[0].events.newest_id()
    done = threading.Event()
    seen: list[int] = []

    def write(store: ModelStore, n: int) -> None:
        for write in range(WRITES):
            store.aliases.set(f"w{n}-{write % 3}", [AliasMember(model_id, 1)])

    def read(store: ModelStore) -> None:
        while True:
            finished = done.is_set()
            seen.extend(event.id for event in store.events.after(seen[-1] if seen else start, 50))
            if finished:
                return

    writers = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(stores[1:])]
    reader = threading.Thread(target=read, args=(stores[0],))
    try:
        reader.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(60)
        done.set()
        reader.join(60)
        written = [event.id for event in stores[0].events.after(start, 10_000)]
        assert len(written) == WRITERS * WRITES
        assert seen == written  # every event, once, in order
    finally:
        done.set()
        for opened in stores:
            opened.close()


def test_two_passes_ending_a_sweep_at_once_write_one_event(
    store_locations: tuple[str, str],
) -> None:
    """Passes racing to end one sweep (a lease that ran out, say): one ends it, with its event;
    the other finds it ended and writes nothing."""
    stores = [ModelStore(*store_locations) for _ in range(WRITERS)]
    stores[0].sweeps.create("sw-race", "ds-race", SWEEP_SPEC, "grid", 1, 1)
    start = stores[0].events.newest_id()
    ready = threading.Barrier(WRITERS)
    ended: list[object] = []

    def end(store: ModelStore, n: int) -> None:
        ready.wait(30)
        ended.append(store.sweeps.end("sw-race", SweepState.FAILED, f"j{n}", None))

    threads = [threading.Thread(target=end, args=(s, n)) for n, s in enumerate(stores)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        winners = [record for record in ended if record is not None]
        assert len(ended) == WRITERS and len(winners) == 1
        events = events_after(stores[0], start)
        assert [(kind, data["state"]) for kind, data in events] == [("sweep_state", "failed")]
        assert events[0][1]["best_job_id"] == winners[0].best_job_id
    finally:
        for opened in stores:
            opened.close()


def test_pruning_deletes_the_oldest_events_but_never_the_newest(store: ModelStore) -> None:
    for n in range(3):
        save_dataset(store, offset=n)
    ids = [event.id for event in store.events.after(0, 10)]
    assert store.events.prune(now_us() - 3_600_000_000) == 0  # nothing an hour old
    assert store.events.oldest_id() == ids[0]

    assert store.events.prune(now_us() + 1) == 2  # everything is old: all but the newest go
    assert store.events.oldest_id() == store.events.newest_id() == ids[-1]
    save_dataset(store, offset=9)
    assert store.events.newest_id() > ids[-1]  # ids go on, never used twice


def test_model_changes_after_names_the_models_created_or_deleted_since_an_id(
    store: ModelStore, make_snapshot
) -> None:
    kept = store.models.save(make_snapshot(job_id="kept"))
    gone = store.models.save(make_snapshot(job_id="gone"))
    position = store.events.newest_id()
    assert store.events.model_changes_after(position).exists == {}

    save_dataset(store)  # not a model's event
    store.models.delete(gone["id"])
    again = store.models.save(make_snapshot(id="again"), imported=True)
    store.models.delete(again["id"])
    renewed = store.models.save(
        make_snapshot(id="again", biases=[[0.1, -0.2], [0.5]]), imported=True
    )
    changes = store.events.model_changes_after(position)
    assert changes.exists == {gone["id"]: False, "again": True}
    assert changes.newest_id == store.events.newest_id() and not changes.pruned
    assert store.events.model_changes_after(changes.newest_id).exists == {}

    stored = store.models.sha256s([kept["id"], gone["id"], "again"])
    assert stored == {kept["id"]: kept["sha256"], "again": renewed["sha256"]}
    assert renewed["sha256"] != again["sha256"]
    assert store.models.sha256s([]) == {}


def test_model_changes_after_says_when_events_after_the_id_were_pruned(
    store: ModelStore, make_snapshot
) -> None:
    store.models.save(make_snapshot(job_id="a"))
    position = store.events.newest_id()
    save_dataset(store)
    store.models.save(make_snapshot(job_id="b"))
    assert store.events.prune(now_us() - 3_600_000_000) == 0
    assert not store.events.model_changes_after(position).pruned

    store.events.prune(now_us() + 1)  # all but the newest: the dataset's event is gone
    changes = store.events.model_changes_after(position)
    assert changes.pruned and changes.newest_id == store.events.newest_id()
    assert not store.events.model_changes_after(changes.newest_id).pruned
    assert not store.events.model_changes_after(changes.newest_id - 1).pruned  # none missing
