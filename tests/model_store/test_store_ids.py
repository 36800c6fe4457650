"""Ids: only valid ids ever become paths; hostile ids raise InvalidId and touch nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_store import InvalidId, ModelStore
from model_store.ids import model_id_for_job, new_model_id, utc_now_iso, validate_id

HOSTILE_IDS = [
    "../x",
    "..",
    "%2e%2e%2f",
    "/etc/passwd",
    "a\x00b",
    "",
    "a" * 129,
    "abc\n",
    "-leading-dash",
    "_leading",
    "a/b",
    "a.json",
    "a b",
    "é",
    None,
    42,
]


@pytest.mark.parametrize("value", ["a", "A9", "m-0123abcd", "ds-x_y-z", "a" * 128])
def test_valid_ids_pass(value: str) -> None:
    assert validate_id(value) == value


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_hostile_ids_are_refused(value: object) -> None:
    with pytest.raises(InvalidId):
        validate_id(value)


def _tree(path: Path) -> set[str]:
    return {
        str(p.relative_to(path)) for p in path.rglob("*") if not p.name.endswith(("-wal", "-shm"))
    }


def test_no_store_method_accepts_a_hostile_id(
    store: ModelStore, tmp_path: Path, make_snapshot
) -> None:
    store.jobs.list()  # the database is open before the tree is compared
    before = _tree(tmp_path)
    for value in HOSTILE_IDS:
        _refused_everywhere(store, make_snapshot, value)
    assert _tree(tmp_path) == before
    assert store.jobs.list().items == [] and store.models.list().items == []


def _refused_everywhere(store: ModelStore, make_snapshot, value: object) -> None:
    calls = [
        lambda: store.datasets.get(value),
        lambda: store.datasets.load(value),
        lambda: store.models.snapshot(value),
        lambda: store.models.get(value),
        lambda: store.models.promote(value),
        lambda: store.models.load(value),
        lambda: store.jobs.create({"id": value}),
        lambda: store.jobs.get(value),
        lambda: store.jobs.version(value),
        lambda: store.jobs.transition(value, ["queued"], state="running"),
        lambda: store.jobs.claim(value, "A", 60.0, 3),
        lambda: store.jobs.heartbeat(value, "A"),
        lambda: store.jobs.finish(value, "A", "failed"),
        lambda: store.jobs.release(value, "A"),
        lambda: store.delete_job(value),
        lambda: store.jobs.request_cancel(value),
        lambda: store.checkpoints.save(value, {"epoch": 1}),
        lambda: store.checkpoints.load(value),
        lambda: store.checkpoints.delete(value),
        lambda: model_id_for_job(value),
    ]
    if value is not None:  # a snapshot without id gets a fresh one
        calls.append(lambda: store.models.save(make_snapshot(id=value)))
    for number, call in enumerate(calls):
        # InvalidId, or InvalidSnapshot for a snapshot's id field
        with pytest.raises(ValueError, match="invalid"):
            call()
            pytest.fail(f"call {number} accepted {value!r}")


def test_new_model_ids_are_valid_and_distinct() -> None:
    ids = {new_model_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(validate_id(i).startswith("m-") and len(i) == 26 for i in ids)


def test_model_id_for_job_is_deterministic_and_valid() -> None:
    job_id = "0123456789abcdef0123456789abcdef"
    assert model_id_for_job(job_id) == "m-" + job_id
    long_id = "j" * 128
    derived = model_id_for_job(long_id)
    assert derived == model_id_for_job(long_id)
    assert validate_id(derived) and derived.startswith("m-")


def test_timestamps_are_utc_iso_with_microseconds() -> None:
    stamp = utc_now_iso()
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-25T08:00:00.000000Z")
    assert stamp[10] == "T" and stamp[19] == "."
