"""Snapshots: save and verify, validation naming the field, damaged blobs, taken and reserved
ids, one snapshot per job, listings."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from model_store import (
    AlreadyExists,
    CorruptSnapshot,
    InvalidSnapshot,
    ModelRecord,
    ModelStore,
    NotFound,
    validate_snapshot,
)
from model_store.canonical import canonical_json, hashed_snapshot_json, snapshot_sha256
from model_store.ids import model_id_for_job
from model_store.legacy_import import import_model
from model_store.snapshots import with_defaults
from model_store.tables import models


def _exported(snapshot: dict) -> dict:
    """The snapshot as another store would have written it (created_at and sha256 filled)."""
    full = with_defaults({**snapshot, "created_at": "2026-01-02T03:04:05.000006Z"})
    full["sha256"] = snapshot_sha256(full)
    return full


def _model_rows(store: ModelStore) -> list[str]:
    with store.engine.connect() as connection:
        return list(connection.execute(models.select().with_only_columns(models.c.id)).scalars())


def test_save_fills_id_created_at_sha256_and_fixed_fields(store: ModelStore, make_snapshot) -> None:
    saved = store.models.save(make_snapshot(job_id="j1"))
    assert saved["id"].startswith("m-") and len(saved["id"]) == 26
    assert saved["created_at"].endswith("Z")
    assert saved["format_version"] == 1 and saved["activation"] == "sigmoid"
    assert saved["features"] == ["weight", "height"]
    assert saved["units"] == {"weight": "lb", "height": "in"}
    assert saved["label"] == {"positive": "F", "negative": "M"}
    assert saved["sha256"] == snapshot_sha256(saved)
    assert store.models.snapshot(saved["id"]) == saved


def test_sha256_is_over_the_canonical_json_of_every_other_field(
    store: ModelStore, make_snapshot
) -> None:
    saved = store.models.save(make_snapshot())
    body = {k: v for k, v in saved.items() if k != "sha256"}
    expected = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert saved["sha256"] == hashlib.sha256(expected.encode("utf-8")).hexdigest()


def test_the_blob_is_the_canonical_json_under_a_key_with_its_sha256(
    store: ModelStore, make_snapshot, snapshot_key
) -> None:
    saved = store.models.save(make_snapshot())
    key = snapshot_key(store, saved["id"])
    assert key == f"models/{saved['id']}/{saved['sha256']}.json"
    assert store.objects.get(key) == canonical_json(saved)


def test_a_given_sha256_is_replaced_by_the_real_one(store: ModelStore, make_snapshot) -> None:
    saved = store.models.save(make_snapshot(sha256="0" * 64))
    assert saved["sha256"] == snapshot_sha256(saved) != "0" * 64


def test_save_does_not_change_the_callers_dict(store: ModelStore, make_snapshot) -> None:
    snapshot = make_snapshot(job_id="j1")
    before = json.dumps(snapshot, sort_keys=True)
    store.models.save(snapshot)
    assert json.dumps(snapshot, sort_keys=True) == before


def test_weights_round_trip_bit_exactly(store: ModelStore, make_snapshot) -> None:
    awkward = [0.1 + 0.2, 1e-300, -2.5e17, math.pi, 5e-324, 1 / 3]
    snapshot = make_snapshot(
        layer_sizes=[2, 3, 1],
        weights=[[awkward[0:2], awkward[2:4], awkward[4:6]], [awkward[0:3]]],
        biases=[awkward[3:6], [awkward[1]]],
    )
    saved = store.models.save(snapshot)
    loaded = store.models.snapshot(saved["id"])
    assert loaded["weights"] == snapshot["weights"] and loaded["biases"] == snapshot["biases"]


# Ids: taken, reserved for a job, one snapshot per job


def test_a_taken_id_is_refused(store: ModelStore, make_snapshot) -> None:
    first = store.models.save(make_snapshot(job_id="job1", id="m-x"))
    for job_id in ("job2", None):
        with pytest.raises(AlreadyExists) as caught:
            store.models.save(make_snapshot(job_id=job_id, id="m-x", loss="log_loss"))
        assert (caught.value.kind, caught.value.id) == ("model", "m-x")
    assert import_model(store, _exported(make_snapshot(id="m-x"))) is False
    assert store.models.snapshot("m-x") == first and _model_rows(store) == ["m-x"]


def test_a_jobs_model_id_cannot_be_taken_before_the_job_saves(
    store: ModelStore, make_snapshot, new_job
) -> None:
    new_job(store, "job1")
    reserved = model_id_for_job("job1")
    assert reserved == "m-job1"
    for job_id in (None, "job2"):
        with pytest.raises(AlreadyExists, match="m-job1"):
            store.models.save(make_snapshot(job_id=job_id, id=reserved))
    with pytest.raises(AlreadyExists):
        store.models.save(make_snapshot(job_id="job1", id=reserved), imported=True)
    assert import_model(store, _exported(make_snapshot(job_id="job2", id=reserved))) is False
    assert _model_rows(store) == []
    with pytest.raises(NotFound):
        store.models.snapshot(reserved)
    # The job itself saves its snapshot under that id, and an import still cannot replace it.
    saved = store.models.save(make_snapshot(job_id="job1", id=reserved))
    with pytest.raises(AlreadyExists):
        store.models.save(make_snapshot(job_id="job1", id=reserved, loss="log_loss"), imported=True)
    assert store.models.snapshot(reserved) == saved


def test_a_retried_job_saves_exactly_one_snapshot(
    store: ModelStore, make_snapshot, new_job
) -> None:
    new_job(store, "job1")
    model_id = model_id_for_job("job1")
    first = store.models.save(make_snapshot(job_id="job1", id=model_id))
    retry = make_snapshot(job_id="job1", id=model_id, biases=[[9.0, 9.0], [9.0]])
    assert store.models.save(retry) == first
    assert _model_rows(store) == [model_id]
    assert store.models.snapshot(model_id) == first


CONCURRENT_SAVER = """
import json, sys
from model_store import ModelStore
store = ModelStore(sys.argv[1], sys.argv[2])
snapshot = json.loads(sys.argv[3])
snapshot["training"]["seed"] = int(sys.argv[4])  # each writer's content differs
store.jobs.get("job1")  # connected
print("ready", flush=True); sys.stdin.readline()
print(json.dumps(store.models.save(snapshot)))
"""


def test_concurrent_saves_of_one_job_keep_one_snapshot(
    store: ModelStore, store_locations, make_snapshot, new_job, run_together
) -> None:
    new_job(store, "job1")
    body = json.dumps(make_snapshot(job_id="job1", id="m-job1"))
    outputs = run_together(CONCURRENT_SAVER, [[*store_locations, body, str(i)] for i in range(3)])
    results = [json.loads(output) for output in outputs]
    assert all(result == results[0] for result in results)
    assert results[0]["training"]["seed"] in (0, 1, 2)
    assert _model_rows(store) == ["m-job1"]
    assert store.models.snapshot("m-job1") == results[0]


# Validation


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


def test_invalid_snapshots_are_refused_naming_the_field(store: ModelStore, make_snapshot) -> None:
    for path, value, field in INVALID_CASES:
        snapshot = _bad(make_snapshot(id="m-bad"), path, value)
        with pytest.raises(InvalidSnapshot) as caught:
            store.models.save(snapshot)
        assert caught.value.reason.startswith(field), (path, caught.value.reason)
    assert _model_rows(store) == []


def test_non_finite_training_values_are_refused(store: ModelStore, make_snapshot) -> None:
    snapshot = make_snapshot()
    snapshot["training"]["loss_history"] = [0.1, float("nan")]
    with pytest.raises(InvalidSnapshot, match="^invalid snapshot: training: "):
        store.models.save(snapshot)
    assert _model_rows(store) == []


def test_a_snapshot_that_is_not_an_object_is_refused(store: ModelStore) -> None:
    with pytest.raises(InvalidSnapshot) as caught:
        store.models.save([1, 2])  # type: ignore[arg-type]
    assert caught.value.reason.startswith("snapshot: expected a JSON object")
    with pytest.raises(InvalidSnapshot, match="snapshot: expected a JSON object"):
        validate_snapshot("text")


def test_a_stored_snapshot_passes_the_import_validation(store: ModelStore, make_snapshot) -> None:
    saved = store.models.save(make_snapshot(job_id="j"))
    validate_snapshot(saved)
    exported = json.loads(json.dumps(saved))
    exported.pop("id")
    reimported = store.models.save(exported)
    assert reimported["id"] != saved["id"] and reimported["weights"] == saved["weights"]


def test_deeper_networks_are_accepted(store: ModelStore, make_snapshot) -> None:
    snapshot = make_snapshot(
        layer_sizes=[2, 4, 3, 1],
        loss="log_loss",
        weights=[[[0.1, 0.2]] * 4, [[0.1, 0.2, 0.3, 0.4]] * 3, [[1.0, 2.0, 3.0]]],
        biases=[[0.0] * 4, [0.0] * 3, [0.0]],
    )
    saved = store.models.save(snapshot)
    assert store.models.snapshot(saved["id"])["layer_sizes"] == [2, 4, 3, 1]


def test_hashed_snapshot_json_equals_hashing_then_encoding(make_snapshot) -> None:
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


# Damaged blobs


def _renamed(saved: dict) -> bytes:
    """Self-consistent bytes of another model's snapshot."""
    other = dict(saved, id="m-other")
    other["sha256"] = snapshot_sha256(other)
    return canonical_json(other)


def _retrained(saved: dict) -> bytes:
    """Self-consistent bytes (sha256 matches its content), but not what was saved."""
    changed = json.loads(json.dumps(saved))
    changed["weights"][0][0][0] = 123.0
    changed["sha256"] = snapshot_sha256(changed)
    return canonical_json(changed)


def _tampered(saved: dict) -> bytes:
    changed = json.loads(json.dumps(saved))
    changed["weights"][0][0][0] = 123.0
    return canonical_json(changed)


DAMAGE = {
    "truncated": (lambda saved: canonical_json(saved)[:-10], "not valid JSON"),
    "not json": (lambda saved: b"\x00\xffthis is not json", "not valid JSON"),
    "nan": (lambda saved: b'{"sha256": "x", "weights": NaN}', "not valid JSON"),
    "array": (lambda saved: b"[1, 2]", "not a JSON object"),
    "tampered": (_tampered, "sha256 does not match the content"),
    "renamed": (_renamed, "does not match the file name"),
    "retrained": (_retrained, "sha256 differs from the one recorded"),
}


def test_a_damaged_blob_is_corrupt_and_listed_so(
    store: ModelStore, make_snapshot, overwrite_object, snapshot_key
) -> None:
    good = store.models.save(make_snapshot(job_id="good"))
    store.models.promote(good["id"])
    damaged = {k: store.models.save(make_snapshot(job_id=k.replace(" ", "-"))) for k in DAMAGE}
    for kind, saved in damaged.items():
        overwrite_object(store, snapshot_key(store, saved["id"]), DAMAGE[kind][0](saved))
    assert {m.status for m in store.models.list().items} == {"ok"}  # nobody read them yet
    for kind, saved in damaged.items():
        with pytest.raises(CorruptSnapshot) as caught:
            store.models.snapshot(saved["id"])
        assert caught.value.model_id == saved["id"], kind
        assert DAMAGE[kind][1] in caught.value.reason, (kind, caught.value.reason)
        assert saved["id"] in str(caught.value)
        with pytest.raises(CorruptSnapshot):
            store.models.load(saved["id"])
        with pytest.raises(CorruptSnapshot):
            store.models.promote(saved["id"])
    listed = {entry.id: entry for entry in store.models.list().items}
    for kind, saved in damaged.items():
        assert listed[saved["id"]].status == "corrupt", kind
        assert DAMAGE[kind][1] in listed[saved["id"]].error, kind
    assert listed[good["id"]].status == "ok" and listed[good["id"]].error is None
    assert store.models.latest_id() == good["id"]


def test_a_missing_blob_is_corrupt(store: ModelStore, make_snapshot, snapshot_key) -> None:
    saved = store.models.save(make_snapshot())
    store.objects.delete(snapshot_key(store, saved["id"]))
    with pytest.raises(CorruptSnapshot, match="missing"):
        store.models.snapshot(saved["id"])
    assert store.models.get(saved["id"]).status == "corrupt"


def test_missing_models(store: ModelStore) -> None:
    with pytest.raises(NotFound) as caught:
        store.models.snapshot("m-missing")
    assert (caught.value.kind, caught.value.id) == ("model", "m-missing")
    with pytest.raises(NotFound):
        store.models.get("m-missing")
    with pytest.raises(NotFound):
        store.models.load("m-missing")
    assert store.models.list().items == []


# Listing


def test_summaries_carry_the_training_record(store: ModelStore, make_snapshot) -> None:
    saved = store.models.save(make_snapshot(job_id="job1", id="m-a"))
    store.models.promote("m-a")
    assert store.models.list().items == [
        ModelRecord(
            id="m-a",
            created_at=saved["created_at"],
            job_id="job1",
            dataset_id=saved["training"]["dataset_id"],
            metrics={"train_accuracy": 1.0, "validation_accuracy": None},
            is_latest=True,
            status="ok",
            error=None,
        )
    ]
    assert store.models.get("m-a") == store.models.list().items[0]


def test_list_filters_by_dataset(store: ModelStore, make_snapshot) -> None:
    def on(dataset_id: str | None, model_id: str) -> None:
        snapshot = make_snapshot(id=model_id)
        snapshot["training"]["dataset_id"] = dataset_id
        store.models.save(snapshot)

    for model_id, dataset_id in [("m-1", "ds-a"), ("m-2", "ds-b"), ("m-3", "ds-a"), ("m-4", None)]:
        on(dataset_id, model_id)
    assert [m.id for m in store.models.list(dataset_id="ds-a").items] == ["m-3", "m-1"]
    assert [m.id for m in store.models.list(dataset_id="ds-b").items] == ["m-2"]
    assert store.models.list(dataset_id="ds-none").items == []
    assert len(store.models.list().items) == 4
    page = store.models.list(limit=1, dataset_id="ds-a")
    rest = store.models.list(limit=1, page_token=page.next_token, dataset_id="ds-a")
    assert [m.id for m in page.items + rest.items] == ["m-3", "m-1"]
    assert rest.next_token is None


def test_pages_cover_every_model_once_newest_first(store: ModelStore, make_snapshot) -> None:
    saved = [store.models.save(make_snapshot(id=f"m-{n}")) for n in range(7)]
    expected = [
        s["id"] for s in sorted(saved, key=lambda s: (s["created_at"], s["id"]), reverse=True)
    ]
    assert expected[0] == "m-6" and expected[-1] == "m-0"
    for limit in (1, 3, 7):
        seen, token = [], None
        while True:
            page = store.models.list(limit=limit, page_token=token)
            assert len(page.items) <= limit
            seen += [m.id for m in page.items]
            token = page.next_token
            if token is None:
                break
        assert seen == expected, limit
