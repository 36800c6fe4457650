"""Jobs: records, compare-and-set transitions, the lease (claim, heartbeat, finish, release),
cancel requests, the reaper, paged listings and the aggregate figures."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
import sqlalchemy as sa
import stores

from model_store import AlreadyExists, InvalidId, ModelStore, NotFound
from model_store.jobs import VERSIONS_BATCH
from model_store.tables import DURATION_BOUNDS, jobs
from model_store.times import iso, now_us

LONG = 60.0  # a lease or resend delay no test outlives
SHORT = 0.05  # a lease that has run out once its owner stopped beating (`stop_beating`)


def running(store: ModelStore, new_job, job_id: str = "job1", owner: str = "A") -> dict:
    new_job(store, job_id)
    claim = store.jobs.claim(job_id, owner, LONG, 3)
    assert claim.outcome == "claimed"
    return claim.record


def send_long_ago(store: ModelStore, job_id: str) -> None:
    """Make the job's task look sent two minutes ago (a message that may have been lost)."""
    with store.engine.begin() as connection:
        connection.execute(
            jobs.update().where(jobs.c.id == job_id).values(sent_us=now_us() - 120_000_000)
        )


def stop_beating(store: ModelStore, job_id: str) -> None:
    """Make the job's owner look silent for two minutes (a lost worker), without waiting."""
    with store.engine.begin() as connection:
        connection.execute(
            jobs.update().where(jobs.c.id == job_id).values(heartbeat_at=time.time() - 120)
        )


def column(store: ModelStore, job_id: str, name: str) -> object:
    with store.engine.connect() as connection:
        return connection.execute(sa.select(jobs.c[name]).where(jobs.c.id == job_id)).scalar_one()


# Records


def test_create_job_fills_the_documented_record(store: ModelStore, new_job) -> None:
    job = new_job(store, state="running", promote=False)  # a given state is ignored
    assert dataclasses.asdict(job) == {
        "id": "job1",
        "state": "queued",
        "progress": {"epoch": 0, "epochs": 1000, "loss": None},
        "loss_history": [],
        "model_id": None,
        "metrics": {"train_accuracy": None, "validation_accuracy": None},
        "error": None,
        "created_at": job.created_at,
        "started_at": None,
        "finished_at": None,
        "dataset_id": "ds-0123456789abcdef01234567",
        "hyperparameters": {"epochs": 1000},
        "initial_model_id": None,
        "promote": False,
        "promote_alias": "latest",
        "promotion": None,
        "attempts": 0,
        "worker": None,
        "heartbeat_at": None,
        "cancel_requested": False,
        "version": 1,
        "sweep_id": None,
        "trial_number": None,
        "pruned": False,
    }
    assert job.created_at.endswith("Z")
    assert store.jobs.get("job1") == job


def test_create_job_needs_a_new_valid_id(store: ModelStore, new_job) -> None:
    with pytest.raises(ValueError, match="id"):
        store.jobs.create({"dataset_id": "ds-x"})
    with pytest.raises(InvalidId):
        store.jobs.create({"id": "../x"})
    new_job(store)
    with pytest.raises(AlreadyExists):
        new_job(store)
    assert [job.id for job in store.jobs.list().items] == ["job1"]


def test_missing_jobs(store: ModelStore) -> None:
    for call in (
        lambda: store.jobs.get("nope"),
        lambda: store.delete_job("nope"),
        lambda: store.jobs.request_cancel("nope"),
    ):
        with pytest.raises(NotFound):
            call()
    assert store.jobs.version("nope") is None
    assert store.jobs.transition("nope", ["queued"], state="running") is None
    assert store.jobs.heartbeat("nope", "A") is None
    assert store.jobs.finish("nope", "A", "failed") is None


def test_the_version_changes_with_every_change(store: ModelStore, new_job) -> None:
    new_job(store)
    versions = [store.jobs.version("job1")]
    store.jobs.claim("job1", "A", LONG, 3)
    versions.append(store.jobs.version("job1"))
    store.jobs.heartbeat("job1", "A", progress={"epoch": 1, "epochs": 1000, "loss": 0.5})
    versions.append(store.jobs.version("job1"))
    store.jobs.heartbeat("job1", "A", progress={"epoch": 1, "epochs": 1000, "loss": 0.5})
    versions.append(store.jobs.version("job1"))  # same content: still a change
    store.jobs.request_cancel("job1")
    versions.append(store.jobs.version("job1"))
    assert versions == sorted(set(versions)) and len(versions) == 5
    assert store.jobs.get("job1").version == versions[-1]


def test_the_versions_of_many_jobs_in_batches_of_one_query(store: ModelStore, new_job) -> None:
    ids = [f"job{n}" for n in range(VERSIONS_BATCH + 2)]  # more than one batch
    for job_id in ids:
        new_job(store, job_id)
    store.jobs.request_cancel("job1")
    queries: list[str] = []

    def listener(connection: object, cursor: object, statement: str, *rest: object) -> None:
        queries.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", listener)
    try:
        versions = store.jobs.versions([*ids, "gone", "job1"])
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", listener)
    assert versions == {job_id: store.jobs.version(job_id) for job_id in ids}
    assert versions["job1"] > versions["job0"]
    assert len([q for q in queries if q.lstrip().upper().startswith("SELECT")]) == 2
    assert store.jobs.versions([]) == {}
    with pytest.raises(InvalidId):
        store.jobs.versions(["job1", "../x"])


def test_delete_job_removes_the_row_and_its_checkpoint(store: ModelStore, new_job) -> None:
    new_job(store)
    store.checkpoints.save("job1", {"epochs_done": 1})
    store.delete_job("job1")
    assert store.checkpoints.load("job1") is None
    with pytest.raises(NotFound):
        store.jobs.get("job1")


# Compare-and-set transitions


def test_transitions_are_compare_and_set(store: ModelStore, new_job) -> None:
    new_job(store)
    started = iso(now_us())
    moved = store.jobs.transition("job1", ("queued",), state="running", started_at=started)
    assert moved is not None and moved.state == "running" and moved.started_at == started
    assert store.jobs.transition("job1", ("queued",), state="failed") is None
    assert store.jobs.get("job1") == moved
    assert store.jobs.transition("job1", "run", state="failed") is None  # a state, not a substring
    done = store.jobs.transition("job1", "running", state="succeeded", model_id="m-job1")
    assert done is not None and (done.state, done.model_id) == ("succeeded", "m-job1")
    assert store.jobs.transition("job1", ["queued", "running"], state="failed") is None
    assert store.jobs.get("job1").state == "succeeded"


def test_transitions_refuse_unknown_fields_and_states(store: ModelStore, new_job) -> None:
    new_job(store)
    with pytest.raises(ValueError, match="state"):
        store.jobs.transition("job1", ["queued"], state="exploded")
    with pytest.raises(ValueError, match="cannot be set"):
        store.jobs.transition("job1", ["queued"], attempts=7)
    with pytest.raises(ValueError, match="cannot be set"):
        store.jobs.transition("job1", ["queued"], id="other")
    assert store.jobs.get("job1").state == "queued"


def test_a_final_transition_ends_the_lease(store: ModelStore, new_job) -> None:
    running(store, new_job)
    ended = store.jobs.transition("job1", ["running"], state="failed", error="boom")
    assert (ended.state, ended.error, ended.worker, ended.heartbeat_at) == (
        "failed",
        "boom",
        None,
        None,
    )
    assert store.jobs.heartbeat("job1", "A") is None


# The lease


def test_claim_takes_a_queued_job(store: ModelStore, new_job) -> None:
    new_job(store)
    claim = store.jobs.claim("job1", "A", LONG, 3)
    record = claim.record
    assert claim.outcome == "claimed"
    assert (record.state, record.worker, record.attempts) == ("running", "A", 1)
    assert record.started_at is not None and record.heartbeat_at is not None
    assert store.jobs.get("job1") == record


def test_a_live_owner_keeps_the_job(store: ModelStore, new_job) -> None:
    first = running(store, new_job)
    claim = store.jobs.claim("job1", "B", LONG, 3)
    assert claim.outcome == "busy" and claim.record.worker == "A"
    assert store.jobs.claim("job1", "A", LONG, 3).outcome == "busy"  # a duplicate delivery
    assert store.jobs.get("job1").attempts == first.attempts == 1


def test_a_lost_owner_is_replaced_after_its_lease(store: ModelStore, new_job) -> None:
    new_job(store)
    first = store.jobs.claim("job1", "A", SHORT, 3).record
    stop_beating(store, "job1")
    claim = store.jobs.claim("job1", "B", SHORT, 3)
    assert claim.outcome == "claimed"
    assert (claim.record.worker, claim.record.attempts) == ("B", 2)
    assert claim.record.started_at == first.started_at  # the first start is kept
    # The old owner learns it lost the job, and can neither report progress nor finish it.
    assert (
        store.jobs.heartbeat("job1", "A", progress={"epoch": 9, "epochs": 9, "loss": 0.1}) is None
    )
    assert store.jobs.finish("job1", "A", "succeeded") is None
    assert store.jobs.get("job1").state == "running" and store.jobs.get("job1").worker == "B"


def test_a_job_that_lost_too_many_owners_gives_up(store: ModelStore, new_job) -> None:
    new_job(store)
    assert store.jobs.claim("job1", "A", SHORT, 2).outcome == "claimed"
    stop_beating(store, "job1")
    assert store.jobs.claim("job1", "B", SHORT, 2).outcome == "claimed"
    stop_beating(store, "job1")
    claim = store.jobs.claim("job1", "C", SHORT, 2)
    assert claim.outcome == "gave_up"
    record = store.jobs.get("job1")
    assert record == claim.record
    assert (record.state, record.worker, record.attempts) == ("failed", None, 2)
    assert "lost 2 times (limit 2)" in record.error
    assert record.finished_at is not None
    assert store.jobs.claim("job1", "D", SHORT, 2).outcome == "terminal"


def test_a_finished_job_is_not_claimed(store: ModelStore, new_job) -> None:
    running(store, new_job)
    store.jobs.finish("job1", "A", "succeeded")
    claim = store.jobs.claim("job1", "B", LONG, 3)
    assert claim.outcome == "terminal" and claim.record.state == "succeeded"


def test_heartbeats_refresh_the_lease_and_carry_the_cancel_request(
    store: ModelStore, new_job
) -> None:
    new_job(store)
    claimed = store.jobs.claim("job1", "A", SHORT, 3).record
    # A was silent for longer than its lease, but nobody took the job meanwhile.
    stop_beating(store, "job1")
    progress = {"epoch": 3, "epochs": 1000, "loss": 0.25}
    assert store.jobs.heartbeat("job1", "A", progress=progress, loss_history=[0.5, 0.25]) is False
    assert store.jobs.get("job1").heartbeat_at > claimed.heartbeat_at
    assert store.jobs.claim("job1", "B", LONG, 3).outcome == "busy"
    record = store.jobs.get("job1")
    assert (record.progress, record.loss_history) == (progress, [0.5, 0.25])
    assert store.jobs.heartbeat("job1", "B") is None
    assert store.jobs.get("job1").worker == "A"
    store.jobs.request_cancel("job1")
    assert store.jobs.get("job1").cancel_requested is True
    assert store.jobs.heartbeat("job1", "A") is True
    with pytest.raises(ValueError, match="cannot be set"):
        store.jobs.heartbeat("job1", "A", attempts=0)


def test_finish_by_the_owner_records_the_outcome(store: ModelStore, new_job) -> None:
    running(store, new_job)
    with pytest.raises(ValueError, match="state"):
        store.jobs.finish("job1", "A", "running")
    assert store.jobs.finish("job1", "B", "succeeded") is None
    metrics = {"train_accuracy": 0.75, "validation_accuracy": 0.5}
    done = store.jobs.finish("job1", "A", "succeeded", model_id="m-job1", metrics=metrics)
    assert (done.state, done.model_id, done.metrics) == ("succeeded", "m-job1", metrics)
    assert done.worker is None and done.heartbeat_at is None
    assert done.finished_at >= done.started_at
    seconds = column(store, "job1", "training_seconds")
    started, finished = column(store, "job1", "started_us"), column(store, "job1", "finished_us")
    assert seconds == pytest.approx((finished - started) / 1e6)
    assert store.jobs.finish("job1", "A", "failed") is None  # only once
    assert store.jobs.get("job1") == done


def test_release_requeues_without_counting_the_attempt(store: ModelStore, new_job) -> None:
    running(store, new_job)
    assert store.jobs.release("job1", "B") is None
    released = store.jobs.release("job1", "A")
    assert (released.state, released.worker, released.attempts) == ("queued", None, 0)
    assert store.jobs.heartbeat("job1", "A") is None
    claim = store.jobs.claim("job1", "B", LONG, 1)  # max_attempts 1: the release did not count
    assert claim.outcome == "claimed" and claim.record.attempts == 1


def test_a_cancel_requested_while_queued_ends_the_job_at_its_claim(
    store: ModelStore, new_job
) -> None:
    new_job(store)
    assert store.jobs.request_cancel("job1").cancel_requested is True
    claim = store.jobs.claim("job1", "A", LONG, 3)
    assert claim.outcome == "cancel"
    assert (claim.record.state, claim.record.attempts) == ("cancelled", 0)
    assert claim.record.finished_at is not None
    assert store.jobs.get("job1") == claim.record


def test_a_cancel_requested_of_a_lost_owner_ends_the_job_at_the_next_claim(
    store: ModelStore, new_job
) -> None:
    new_job(store)
    store.jobs.claim("job1", "A", SHORT, 3)
    store.jobs.request_cancel("job1")
    assert store.jobs.claim("job1", "B", 10.0, 3).outcome == "busy"  # A may still stop it
    stop_beating(store, "job1")
    claim = store.jobs.claim("job1", "B", SHORT, 3)
    assert claim.outcome == "cancel" and claim.record.state == "cancelled"


def _claim_all(stores: list[ModelStore], job_id: str) -> list[str]:
    """Each store claims `job_id` from a thread of its own, all released at once."""
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def claim(index: int) -> None:
        barrier.wait(timeout=30)
        outcomes.append(stores[index].jobs.claim(job_id, f"owner-{index}", LONG, 3).outcome)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.fixture
def eight_stores(store: ModelStore) -> list[ModelStore]:
    """Eight stores (eight engines) on the same database and objects, like eight workers."""
    opened = [ModelStore(store.database_url, store.objects) for _ in range(8)]
    yield opened
    for each in opened:
        each.close()


def test_of_many_racing_claims_exactly_one_wins(
    store: ModelStore, new_job, eight_stores: list[ModelStore]
) -> None:
    for round_ in range(3):
        new_job(store, f"job{round_}")
        outcomes = _claim_all(eight_stores, f"job{round_}")
        assert sorted(outcomes) == ["busy"] * 7 + ["claimed"], outcomes
        record = store.jobs.get(f"job{round_}")
        assert record.attempts == 1 and record.worker.startswith("owner-")


CLAIMER = """
import sys
from model_store import ModelStore
store = ModelStore(sys.argv[1], sys.argv[2])
store.jobs.get("job1")  # connected
print("ready", flush=True); sys.stdin.readline()
print(store.jobs.claim("job1", sys.argv[3], 60.0, 3).outcome)
"""


def test_of_claims_from_many_processes_exactly_one_wins(
    store: ModelStore, store_locations, new_job, run_together
) -> None:
    new_job(store)
    owners = [[*store_locations, f"process-{n}"] for n in range(4)]
    outcomes = run_together(CLAIMER, owners)
    assert sorted(outcomes) == ["busy"] * 3 + ["claimed"], outcomes
    record = store.jobs.get("job1")
    assert record.attempts == 1 and record.worker.startswith("process-")


# The reaper


def test_reap_requeues_a_job_whose_owner_stopped_beating(store: ModelStore, new_job) -> None:
    running(store, new_job, "lost", "A")
    running(store, new_job, "alive", "B")
    stop_beating(store, "lost")
    repairs = store.jobs.reap(LONG, 3, LONG)
    assert (repairs.requeued, repairs.ended, repairs.resend) == (["lost"], [], ["lost"])
    lost = store.jobs.get("lost")
    assert (lost.state, lost.worker, lost.attempts) == ("queued", None, 1)
    assert store.jobs.get("alive").state == "running"
    assert store.jobs.heartbeat("lost", "A") is None
    again = store.jobs.reap(LONG, 3, LONG)
    assert (again.requeued, again.ended, again.resend) == ([], [], [])
    assert store.jobs.claim("lost", "C", LONG, 3).record.attempts == 2


def test_reap_fails_a_job_after_max_attempts(store: ModelStore, new_job) -> None:
    new_job(store)
    store.jobs.claim("job1", "A", SHORT, 1)
    stop_beating(store, "job1")
    repairs = store.jobs.reap(SHORT, 1, LONG)
    assert (repairs.requeued, repairs.ended, repairs.resend) == ([], ["job1"], [])
    record = store.jobs.get("job1")
    assert (record.state, record.worker) == ("failed", None)
    assert "lost 1 times (limit 1)" in record.error and record.finished_at is not None


def test_reap_cancels_a_lost_job_whose_cancel_was_requested(store: ModelStore, new_job) -> None:
    new_job(store)
    store.jobs.claim("job1", "A", SHORT, 3)
    store.jobs.request_cancel("job1")
    stop_beating(store, "job1")
    repairs = store.jobs.reap(SHORT, 3, LONG)
    assert (repairs.requeued, repairs.ended, repairs.resend) == ([], ["job1"], [])
    assert store.jobs.get("job1").state == "cancelled"


def test_reap_resends_a_queued_job_whose_message_looks_lost(store: ModelStore, new_job) -> None:
    new_job(store, "old")
    new_job(store, "new")
    send_long_ago(store, "old")
    repairs = store.jobs.reap(LONG, 3, LONG)
    assert (repairs.requeued, repairs.ended, repairs.resend) == ([], [], ["old"])
    assert store.jobs.reap(LONG, 3, LONG).resend == []  # re-sent just now: not again
    send_long_ago(store, "new")
    stores.mark_job_sent(store, "new")  # the caller sent it meanwhile
    assert store.jobs.reap(LONG, 3, LONG).resend == []
    assert [store.jobs.get(i).state for i in ("old", "new")] == ["queued", "queued"]


def test_reap_leaves_finished_and_live_jobs_alone(store: ModelStore, new_job) -> None:
    running(store, new_job, "live")
    running(store, new_job, "done")
    store.jobs.finish("done", "A", "succeeded")
    repairs = store.jobs.reap(LONG, 3, LONG)
    assert (repairs.requeued, repairs.ended, repairs.resend) == ([], [], [])
    assert [store.jobs.get(i).state for i in ("live", "done")] == ["running", "succeeded"]


def test_racing_reapers_repair_each_job_once(
    store: ModelStore, new_job, eight_stores: list[ModelStore]
) -> None:
    doomed = [f"doomed{n}" for n in range(3)]  # lost its second owner: fails (limit 2)
    lost = [f"lost{n}" for n in range(6)]  # lost its first owner: requeued and re-sent
    quiet = [f"quiet{n}" for n in range(4)]  # queued, its message long gone: re-sent
    for job_id in doomed:
        new_job(store, job_id)
        store.jobs.claim(job_id, "A", SHORT, 2)
    for job_id in doomed:
        stop_beating(store, job_id)
    for job_id in doomed:
        assert store.jobs.claim(job_id, "B", SHORT, 2).outcome == "claimed"
    for job_id in lost:
        new_job(store, job_id)
        store.jobs.claim(job_id, "A", SHORT, 2)
    for job_id in quiet:
        new_job(store, job_id)
        send_long_ago(store, job_id)
    for job_id in doomed + lost:
        stop_beating(store, job_id)
    reapers = eight_stores[:2]
    barrier = threading.Barrier(len(reapers))
    results = []

    def reap(reaper: ModelStore) -> None:
        barrier.wait(timeout=30)
        results.append(reaper.jobs.reap(SHORT, 2, LONG))

    threads = [threading.Thread(target=reap, args=(reaper,)) for reaper in reapers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2
    ended = sorted(i for r in results for i in r.ended)
    requeued = sorted(i for r in results for i in r.requeued)
    resend = sorted(i for r in results for i in r.resend)
    assert ended == sorted(doomed)  # each exactly once, whichever reaper did it
    assert requeued == sorted(lost)
    assert resend == sorted(lost + quiet)
    assert {store.jobs.get(i).state for i in doomed} == {"failed"}
    assert {store.jobs.get(i).state for i in lost + quiet} == {"queued"}
    assert {store.jobs.get(i).attempts for i in lost} == {1}


# Listing and figures


def _listed(store: ModelStore, limit: int, **filters: str) -> list[str]:
    seen, token = [], None
    while True:
        page = store.jobs.list(limit, token, **filters)
        assert len(page.items) <= limit
        seen += [job.id for job in page.items]
        token = page.next_token
        if token is None:
            return seen


def test_list_jobs_pages_newest_first_with_filters(store: ModelStore, new_job) -> None:
    created = []
    for n in range(9):
        created.append(new_job(store, f"job{n}", dataset_id="ds-a" if n % 3 else "ds-b"))
    for job_id in ("job1", "job4", "job8"):
        store.jobs.claim(job_id, "A", LONG, 3)
    store.jobs.finish("job4", "A", "succeeded")
    newest_first = [
        job.id for job in sorted(created, key=lambda j: (j.created_at, j.id), reverse=True)
    ]
    assert newest_first[0] == "job8" and newest_first[-1] == "job0"
    for limit in (1, 2, 4, 9, 100):
        assert _listed(store, limit) == newest_first, limit
    assert _listed(store, 2, state="running") == ["job8", "job1"]
    assert _listed(store, 2, state="succeeded") == ["job4"]
    assert _listed(store, 2, dataset_id="ds-b") == ["job6", "job3", "job0"]
    assert _listed(store, 1, state="queued", dataset_id="ds-a") == ["job7", "job5", "job2"]
    assert _listed(store, 5, state="failed") == []
    assert _listed(store, 5, dataset_id="ds-none") == []


def test_list_jobs_returns_whole_records(store: ModelStore, new_job) -> None:
    running(store, new_job)
    assert store.jobs.list().items == [store.jobs.get("job1")]


def test_counts_aggregate_every_state(store: ModelStore, new_job) -> None:
    assert store.jobs.counts() == dict.fromkeys(
        ("queued", "running", "succeeded", "failed", "cancelled"), 0
    )
    for n in range(7):
        new_job(store, f"job{n}")
    for n in range(1, 7):
        store.jobs.claim(f"job{n}", "A", LONG, 3)
    store.jobs.finish("job2", "A", "succeeded")
    store.jobs.finish("job3", "A", "succeeded")
    store.jobs.finish("job4", "A", "failed", error="boom")
    store.jobs.finish("job5", "A", "cancelled")
    assert store.jobs.counts() == {
        "queued": 1,
        "running": 2,
        "succeeded": 2,
        "failed": 1,
        "cancelled": 1,
    }


def test_duration_histogram_aggregates_training_seconds(store: ModelStore, new_job) -> None:
    # Each job claimed, its start moved into the past, then finished: known durations.
    durations = {"a": ("succeeded", 2), "b": ("succeeded", 50), "c": ("failed", 20)}
    for job_id, (state, seconds) in durations.items():
        running(store, new_job, job_id)
        store.jobs.transition(job_id, ["running"], started_at=iso(now_us() - seconds * 1_000_000))
        store.jobs.finish(job_id, "A", state)
    new_job(store, "d")
    store.jobs.transition("d", ["queued"], state="failed", error="never ran")  # no duration
    figures = store.jobs.duration_histogram()
    assert set(figures) == {"succeeded", "failed", "cancelled"}
    at = {bound: index for index, bound in enumerate(DURATION_BOUNDS)}
    counts, count, total = figures["succeeded"]
    assert count == 2 and len(counts) == len(DURATION_BOUNDS)
    assert (counts[at[1.0]], counts[at[5.0]], counts[at[30.0]], counts[at[60.0]]) == (0, 1, 1, 2)
    assert total == pytest.approx(52, abs=5)  # the jobs took a few ms beyond their moved start
    counts, count, total = figures["failed"]
    assert (counts[at[10.0]], counts[at[30.0]], count) == (0, 1, 1)
    assert total == pytest.approx(20, abs=5)
    assert figures["cancelled"] == ([0] * len(DURATION_BOUNDS), 0, 0.0)
