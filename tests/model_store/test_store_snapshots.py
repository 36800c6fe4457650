"""Snapshots: save and verify, validation naming the field, corrupt files, LATEST, idempotence."""

from __future__ import annotations

import json
import math
import os

import pytest

from model_store import (
    AlreadyExists,
    CorruptSnapshot,
    InvalidSnapshot,
    ModelStore,
    NotFound,
    validate_snapshot,
)
from model_store.canonical import canonical_json, snapshot_sha256


def test_save_fills_id_created_at_sha256_and_fixed_fields(store: ModelStore, make_snapshot) -> None:
    saved = store.save_snapshot(make_snapshot(job_id="j1"))
    assert saved["id"].startswith("m-") and len(saved["id"]) == 26
    assert saved["created_at"].endswith("Z")
    assert saved["format_version"] == 1 and saved["activation"] == "sigmoid"
    assert saved["features"] == ["weight", "height"]
    assert saved["units"] == {"weight": "lb", "height": "in"}
    assert saved["label"] == {"positive": "F", "negative": "M"}
    assert saved["sha256"] == snapshot_sha256(saved)
    assert store.get_snapshot(saved["id"]) == saved


def test_sha256_is_over_the_canonical_json_of_every_other_field(
    store: ModelStore, make_snapshot
) -> None:
    import hashlib

    saved = store.save_snapshot(make_snapshot())
    body = {k: v for k, v in saved.items() if k != "sha256"}
    expected = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert saved["sha256"] == hashlib.sha256(expected.encode("utf-8")).hexdigest()


def test_save_does_not_change_the_callers_dict(store: ModelStore, make_snapshot) -> None:
    snapshot = make_snapshot(job_id="j1")
    before = json.dumps(snapshot, sort_keys=True)
    store.save_snapshot(snapshot)
    assert json.dumps(snapshot, sort_keys=True) == before


def test_weights_round_trip_bit_exactly(store: ModelStore, make_snapshot) -> None:
    awkward = [0.1 + 0.2, 1e-300, -2.5e17, math.pi, 5e-324, 1 / 3]
    snapshot = make_snapshot(
        layer_sizes=[2, 3, 1],
        weights=[[awkward[0:2], awkward[2:4], awkward[4:6]], [awkward[0:3]]],
        biases=[awkward[3:6], [awkward[1]]],
    )
    saved = store.save_snapshot(snapshot)
    loaded = store.get_snapshot(saved["id"])
    assert loaded["weights"] == snapshot["weights"] and loaded["biases"] == snapshot["biases"]


def test_a_retried_job_saves_exactly_one_snapshot(store: ModelStore, make_snapshot) -> None:
    model_id = store.model_id_for_job("job1")
    first = store.save_snapshot(make_snapshot(job_id="job1", id=model_id))
    retry = make_snapshot(job_id="job1", id=model_id, biases=[[9.0, 9.0], [9.0]])
    second = store.save_snapshot(retry)
    assert second == first
    assert [s["id"] for s in store.list_snapshots()] == [model_id]


def test_an_existing_id_from_another_job_is_refused(store: ModelStore, make_snapshot) -> None:
    store.save_snapshot(make_snapshot(job_id="job1", id="m-x"))
    with pytest.raises(AlreadyExists, match="m-x"):
        store.save_snapshot(make_snapshot(job_id="job2", id="m-x"))
    with pytest.raises(AlreadyExists):
        store.save_snapshot(make_snapshot(job_id=None, id="m-x"))


CONCURRENT_SAVER = """
import json, sys
from model_store import ModelStore
store = ModelStore(sys.argv[1])
snapshot = json.loads(sys.argv[2])
snapshot["training"]["seed"] = int(sys.argv[3])  # each writer's content differs
print(json.dumps(store.save_snapshot(snapshot)))
"""


def test_concurrent_saves_of_one_job_create_one_file(
    store: ModelStore, make_snapshot, run_python
) -> None:
    body = json.dumps(make_snapshot(job_id="job1", id=store.model_id_for_job("job1")))
    processes = [run_python(CONCURRENT_SAVER, str(store.root), body, str(i)) for i in range(4)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    assert all(result == results[0] for result in results)
    assert [p.name for p in (store.root / "models").iterdir()] == ["m-job1.json"]
    assert store.get_snapshot("m-job1") == results[0]


def _bad(snapshot: dict, path: str, value: object) -> dict:
    """Set a dotted/indexed path like 'weights.0.1' to value (or delete it when value is ...)."""
    keys = [int(k) if k.lstrip("-").isdigit() else k for k in path.split(".")]
    target = snapshot
    for key in keys[:-1]:
        target = target[key]
    if value is ...:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return snapshot


INVALID_CASES = [
    ("layer_sizes", ..., "layer_sizes: missing"),
    ("weights", ..., "weights: missing"),
    ("normalization", ..., "normalization: missing"),
    ("loss", ..., "loss: missing"),
    ("format_version", 2, "format_version"),
    ("activation", "relu", "activation"),
    ("loss", "hinge", "loss"),
    ("layer_sizes", [3, 2, 1], "layer_sizes[0]"),
    ("layer_sizes", [2, 2, 2], "layer_sizes[-1]"),
    ("layer_sizes", [2, 0, 1], "layer_sizes[1]"),
    ("layer_sizes", [2, True, 1], "layer_sizes[1]"),
    ("layer_sizes", [2], "layer_sizes"),
    ("layer_sizes", [2, 3, 1], "weights[0]"),
    ("weights.0.1", [1.0], "weights[0][1]"),
    ("weights.1", [[1.0, 2.0], [3.0, 4.0]], "weights[1]"),
    ("weights", [[[1.0, 2.0], [3.0, 4.0]]], "weights"),
    ("weights.0.0.1", "1.0", "weights[0][0][1]"),
    ("weights.0.0.1", float("nan"), "weights[0][0][1]"),
    ("weights.0.0.1", float("inf"), "weights[0][0][1]"),
    ("weights.0.0.1", None, "weights[0][0][1]"),
    ("weights.0.0.1", False, "weights[0][0][1]"),
    ("biases.1", [1.0, 2.0], "biases[1]"),
    ("biases", [[1.0, 2.0]], "biases"),
    ("biases.0.0", float("-inf"), "biases[0][0]"),
    ("normalization.scale", [1.0, 0.0], "normalization.scale[1]"),
    ("normalization.scale", [-1.0, 1.0], "normalization.scale[0]"),
    ("normalization.mean", [1.0], "normalization.mean"),
    ("normalization.mean", ..., "normalization.mean"),
    ("normalization", "standard", "normalization"),
    ("features", ["height", "weight"], "features"),
    ("units", {"weight": "kg", "height": "cm"}, "units"),
    ("label", {"positive": "M", "negative": "F"}, "label"),
    ("training", [], "training"),
    ("training.job_id", "../etc", "training.job_id"),
    ("training.dataset_id", "a/b", "training.dataset_id"),
    ("id", "../x", "id"),
]


@pytest.mark.parametrize(("path", "value", "field"), INVALID_CASES)
def test_invalid_snapshots_are_refused_naming_the_field(
    store: ModelStore, make_snapshot, path: str, value: object, field: str
) -> None:
    snapshot = _bad(
        make_snapshot(id="m-bad", created_at="2026-01-01T00:00:00.000000Z"), path, value
    )
    with pytest.raises(InvalidSnapshot) as caught:
        store.save_snapshot(snapshot)
    assert caught.value.reason.startswith(field), caught.value.reason
    assert list((store.root / "models").iterdir()) == []


def test_non_finite_training_values_are_refused(store: ModelStore, make_snapshot) -> None:
    snapshot = make_snapshot()
    snapshot["training"]["loss_history"] = [0.1, float("nan")]
    with pytest.raises(InvalidSnapshot, match="training"):
        store.save_snapshot(snapshot)


def test_a_stored_snapshot_passes_the_import_validation(store: ModelStore, make_snapshot) -> None:
    saved = store.save_snapshot(make_snapshot(job_id="j"))
    validate_snapshot(saved)
    exported = json.loads(json.dumps(saved))
    exported.pop("id")
    reimported = store.save_snapshot(exported)
    assert reimported["id"] != saved["id"] and reimported["weights"] == saved["weights"]


def test_deeper_networks_are_accepted(store: ModelStore, make_snapshot) -> None:
    snapshot = make_snapshot(
        layer_sizes=[2, 4, 3, 1],
        loss="log_loss",
        weights=[[[0.1, 0.2]] * 4, [[0.1, 0.2, 0.3, 0.4]] * 3, [[1.0, 2.0, 3.0]]],
        biases=[[0.0] * 4, [0.0] * 3, [0.0]],
    )
    assert store.save_snapshot(snapshot)["layer_sizes"] == [2, 4, 3, 1]


# Corrupt files on disk


def _write_corrupt(store: ModelStore, model_id: str, data: bytes) -> None:
    (store.root / "models" / f"{model_id}.json").write_bytes(data)


@pytest.fixture
def corrupt_store(store: ModelStore, make_snapshot) -> ModelStore:
    """A store with one good snapshot (latest) and four corrupt ones."""
    good = store.save_snapshot(make_snapshot(job_id="good", id="m-good"))
    store.promote(good["id"])
    data = canonical_json(store.save_snapshot(make_snapshot(job_id="t", id="m-truncated")))
    _write_corrupt(store, "m-truncated", data[: len(data) // 2])
    _write_corrupt(store, "m-notjson", b"\x00\xffthis is not json")
    tampered = store.save_snapshot(make_snapshot(job_id="s", id="m-tampered"))
    tampered["weights"][0][0][0] = 123.0
    _write_corrupt(store, "m-tampered", canonical_json(tampered))
    renamed = dict(good, id="m-other")
    renamed["sha256"] = snapshot_sha256(renamed)
    _write_corrupt(store, "m-renamed", canonical_json(renamed))
    return store


CORRUPT_REASONS = {
    "m-truncated": "not valid JSON",
    "m-notjson": "not valid JSON",
    "m-tampered": "sha256 does not match",
    "m-renamed": "does not match the file name",
}


def test_listing_marks_corrupt_snapshots_and_never_raises(corrupt_store: ModelStore) -> None:
    summaries = {s["id"]: s for s in corrupt_store.list_snapshots()}
    assert set(summaries) == {"m-good", *CORRUPT_REASONS}
    assert summaries["m-good"]["status"] == "ok" and summaries["m-good"]["is_latest"] is True
    assert summaries["m-good"]["job_id"] == "good"
    assert summaries["m-good"]["dataset_id"] == "ds-0123456789abcdef01234567"
    assert summaries["m-good"]["metrics"] == {"train_accuracy": 1.0, "validation_accuracy": None}
    for model_id, reason in CORRUPT_REASONS.items():
        assert summaries[model_id]["status"] == "corrupt"
        assert reason in summaries[model_id]["error"]
        assert summaries[model_id]["is_latest"] is False
    assert corrupt_store.list_snapshots()[0]["id"] == "m-good"  # good ones first


@pytest.mark.parametrize("model_id", sorted(CORRUPT_REASONS))
def test_corrupt_snapshots_are_never_served(corrupt_store: ModelStore, model_id: str) -> None:
    with pytest.raises(CorruptSnapshot) as caught:
        corrupt_store.get_snapshot(model_id)
    assert caught.value.model_id == model_id
    assert CORRUPT_REASONS[model_id] in caught.value.reason
    assert model_id in str(caught.value)
    with pytest.raises(CorruptSnapshot):
        corrupt_store.promote(model_id)
    with pytest.raises(CorruptSnapshot):
        corrupt_store.load_model(model_id)
    assert corrupt_store.latest_model_id() == "m-good"


def test_json_with_nan_is_corrupt(store: ModelStore) -> None:
    _write_corrupt(store, "m-nan", b'{"sha256": "x", "weights": NaN}')
    with pytest.raises(CorruptSnapshot, match="not valid JSON"):
        store.get_snapshot("m-nan")


def test_a_corrupted_latest_is_still_reported_as_latest(store: ModelStore, make_snapshot) -> None:
    saved = store.save_snapshot(make_snapshot(job_id="j", id="m-j"))
    store.promote("m-j")
    _write_corrupt(store, "m-j", canonical_json(saved)[:-10])
    assert store.latest_model_id() == "m-j"
    with pytest.raises(CorruptSnapshot):
        store.get_snapshot("m-j")
    assert store.list_snapshots()[0]["is_latest"] is True


def test_missing_models(store: ModelStore) -> None:
    with pytest.raises(NotFound) as caught:
        store.get_snapshot("m-missing")
    assert (caught.value.kind, caught.value.id) == ("model", "m-missing")
    with pytest.raises(NotFound):
        store.promote("m-missing")
    assert store.latest_model_id() is None
    assert store.latest_version() is None
    assert store.list_snapshots() == []


def test_promote_moves_latest_and_changes_latest_version(store: ModelStore, make_snapshot) -> None:
    first = store.save_snapshot(make_snapshot(job_id="a"))
    second = store.save_snapshot(make_snapshot(job_id="b"))
    store.promote(first["id"])
    version = store.latest_version()
    assert store.latest_model_id() == first["id"]
    store.promote(second["id"])
    assert store.latest_model_id() == second["id"]
    assert store.latest_version() != version
    summaries = store.list_snapshots()
    assert [s["id"] for s in summaries] == [second["id"], first["id"]]  # newest first
    assert [s["is_latest"] for s in summaries] == [True, False]


def test_garbage_in_latest_reads_as_no_latest(store: ModelStore) -> None:
    (store.root / "models" / "LATEST").write_text("../../etc/passwd\n")
    assert store.latest_model_id() is None


def test_stray_files_in_models_are_ignored(store: ModelStore, make_snapshot) -> None:
    saved = store.save_snapshot(make_snapshot())
    for name in (".m-x.json.abc.tmp", "notes.txt", ".hidden.json", "README"):
        (store.root / "models" / name).write_text("junk")
    assert [s["id"] for s in store.list_snapshots()] == [saved["id"]]


def test_reading_never_writes(corrupt_store: ModelStore) -> None:
    def state() -> dict[str, tuple[int, int]]:
        return {
            str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in corrupt_store.root.rglob("*")
        }

    before = state()
    corrupt_store.list_snapshots()
    corrupt_store.get_snapshot("m-good")
    corrupt_store.latest_model_id()
    corrupt_store.latest_version()
    corrupt_store.list_datasets()
    corrupt_store.list_jobs()
    assert state() == before


def test_listing_notices_a_file_corrupted_after_it_was_listed(
    store: ModelStore, make_snapshot
) -> None:
    saved = store.save_snapshot(make_snapshot(id="m-x"))
    path = store.root / "models" / "m-x.json"
    settled = path.stat().st_mtime_ns - 10_000_000_000
    os.utime(path, ns=(settled, settled))  # old enough for the listing cache
    assert store.list_snapshots()[0]["status"] == "ok"
    assert store.list_snapshots()[0]["status"] == "ok"  # from the cache
    data = path.read_bytes()
    path.write_bytes(data.replace(b"0.5", b"0.6"))  # same size, same inode, new mtime
    assert store.list_snapshots()[0]["status"] == "corrupt"
    path.write_bytes(data)
    [summary] = store.list_snapshots()
    assert (summary["id"], summary["status"], summary["error"]) == (saved["id"], "ok", None)


def test_listing_of_a_fresh_file_rewritten_in_place_is_never_stale(
    store: ModelStore, make_snapshot
) -> None:
    store.save_snapshot(make_snapshot(id="m-x"))
    path = store.root / "models" / "m-x.json"
    stat = path.stat()
    assert store.list_snapshots()[0]["status"] == "ok"
    path.write_bytes(path.read_bytes().replace(b"0.5", b"0.6"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with mtime put back
    assert store.list_snapshots()[0]["status"] == "corrupt"


def test_a_snapshot_that_is_not_an_object_is_refused(store: ModelStore) -> None:
    with pytest.raises(InvalidSnapshot) as caught:
        store.save_snapshot([1, 2])  # type: ignore[arg-type]
    assert caught.value.reason.startswith("snapshot: expected a JSON object")
    with pytest.raises(InvalidSnapshot, match="snapshot: expected a JSON object"):
        validate_snapshot("text")


def test_hashed_snapshot_json_equals_hashing_then_encoding(make_snapshot) -> None:
    import numpy as np

    from model_store.canonical import hashed_snapshot_json

    snapshot = {
        **make_snapshot(job_id="j-1"),
        "id": "m-x",
        "note": 'ünïcode \u2028 "quoted"',
        "weights": [np.array([[0.1, 1e-300], [5e-324, -0.0]]), [[np.float64(0.5), 1 / 3]]],
        "sha256": "an old value, replaced",
    }
    sha256, data = hashed_snapshot_json(snapshot)
    assert sha256 == snapshot_sha256(snapshot)
    assert data == canonical_json({**snapshot, "sha256": sha256})


def test_promote_checks_a_snapshot_changed_after_it_was_saved(
    store: ModelStore, make_snapshot
) -> None:
    saved = store.save_snapshot(make_snapshot())
    path = store.root / "models" / f"{saved['id']}.json"
    tampered = path.with_name("tampered.tmp")
    tampered.write_bytes(path.read_bytes().replace(b"0.5", b"0.6"))
    os.replace(tampered, path)  # a new file under the name: promote must read it again
    with pytest.raises(CorruptSnapshot):
        store.promote(saved["id"])
    assert store.latest_model_id() is None
    second = store.save_snapshot(make_snapshot())
    store.promote(second["id"])  # just saved and untouched: promoted without a second read
    assert store.latest_model_id() == second["id"]


def test_promotion_history_is_most_recent_first_without_repeats(
    store: ModelStore, make_snapshot
) -> None:
    first = store.save_snapshot(make_snapshot(job_id="first"))["id"]
    second = store.save_snapshot(make_snapshot(job_id="second"))["id"]
    assert store.promotion_history() == []
    for model_id in (first, second, first):
        store.promote(model_id)
    assert store.promotion_history() == [first, second]
    assert store.promotion_history(limit=1) == [first]
    with (store.root / "models" / "PROMOTIONS").open("a") as history:
        history.write("../etc/passwd\n")  # a line that is not an id is skipped
    assert store.promotion_history() == [first, second]
