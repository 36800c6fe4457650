"""Datasets: content ids (stable, name-independent), metadata, arrays, refusals."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from model_store import Dataset, ModelStore, NotFound, StoreError
from model_store.datasets import split_columns

# The seed's four people: [weight (lb), height (in)], gender.
SEED = {"weight": [133, 160, 152, 120], "height": [65, 72, 70, 60], "label": [1, 0, 0, 1]}


def save_seed(store: ModelStore, name: str = "seed") -> tuple[dict, bool]:
    return store.save_dataset(name, SEED["weight"], SEED["height"], SEED["label"])


def test_save_returns_metadata_and_created(store: ModelStore) -> None:
    info, created = save_seed(store)
    assert created is True
    assert set(info) == {"id", "name", "rows", "counts", "created_at"}
    assert info["name"] == "seed" and info["rows"] == 4
    assert info["counts"] == {"F": 2, "M": 2}
    assert info["id"].startswith("ds-") and len(info["id"]) == 27
    assert info["created_at"].endswith("Z")
    assert store.get_dataset(info["id"]) == info


def test_same_rows_give_the_same_id_whatever_the_name(store: ModelStore) -> None:
    first, _ = save_seed(store, "first")
    second, created = save_seed(store, "second name")
    assert created is False
    assert second == first  # the stored dataset keeps its first name
    as_floats, created = store.save_dataset(
        "floats",
        np.array(SEED["weight"], dtype=np.float64),
        np.array(SEED["height"], dtype=np.float32),
        [1.0, 0.0, 0.0, 1.0],
    )
    assert created is False and as_floats["id"] == first["id"]
    assert len(store.list_datasets()) == 1


def test_the_content_id_is_stable_across_stores(tmp_path) -> None:
    ids = {save_seed(ModelStore(tmp_path / str(i)), str(i))[0]["id"] for i in range(2)}
    # The documented derivation, computed independently: sha256 over the canonical float columns.
    columns = {key: [float(v) for v in values] for key, values in SEED.items()}
    canonical = json.dumps(columns, sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert ids == {"ds-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]}


def test_different_rows_give_different_ids(store: ModelStore) -> None:
    base, _ = save_seed(store)
    reordered, _ = store.save_dataset("r", SEED["weight"][::-1], SEED["height"][::-1], [1, 0, 0, 1])
    relabelled, _ = store.save_dataset("l", SEED["weight"], SEED["height"], [1, 0, 1, 1])
    assert len({base["id"], reordered["id"], relabelled["id"]}) == 3
    assert relabelled["counts"] == {"F": 3, "M": 1}


def test_load_dataset_gives_arrays_in_feature_order(store: ModelStore) -> None:
    info, _ = save_seed(store)
    dataset = store.load_dataset(info["id"])
    assert isinstance(dataset, Dataset)
    assert dataset.info == info
    assert dataset.X.dtype == np.float64 and dataset.X.shape == (4, 2)
    np.testing.assert_array_equal(dataset.X[:, 0], SEED["weight"])
    np.testing.assert_array_equal(dataset.X[:, 1], SEED["height"])
    np.testing.assert_array_equal(dataset.y, SEED["label"])
    assert dataset.y.dtype == np.float64


def test_stored_file_follows_the_layout(store: ModelStore) -> None:
    info, _ = save_seed(store)
    record = json.loads((store.root / "datasets" / f"{info['id']}.json").read_text())
    assert set(record) == {
        "id",
        "name",
        "rows",
        "counts",
        "created_at",
        "weight",
        "height",
        "label",
    }
    assert record["weight"] == [133.0, 160.0, 152.0, 120.0]


def test_list_datasets_newest_first(store: ModelStore) -> None:
    first, _ = save_seed(store)
    second, _ = store.save_dataset("two", [100.0, 200.0], [60.0, 70.0], [1.0, 0.0])
    assert [d["id"] for d in store.list_datasets()] == [second["id"], first["id"]]


def test_returned_metadata_can_be_changed_safely(store: ModelStore) -> None:
    info, _ = save_seed(store)
    fetched = store.get_dataset(info["id"])
    fetched["counts"]["F"] = 99
    fetched["name"] = "changed"
    assert store.get_dataset(info["id"]) == info


@pytest.mark.parametrize(
    ("weight", "height", "label", "message"),
    [
        ([], [], [], "empty"),
        ([1.0, 2.0], [1.0], [1.0, 0.0], "differ in length"),
        ([1.0], [1.0], [0.5], "label"),
        ([float("nan")], [1.0], [1.0], "weight"),
        ([1.0], [float("inf")], [1.0], "height"),
        ([[1.0, 2.0]], [1.0], [1.0], "1-D"),
        (["a"], [1.0], [1.0], "weight"),
    ],
)
def test_unusable_columns_are_refused(
    store: ModelStore, weight: list, height: list, label: list, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.save_dataset("bad", weight, height, label)
    assert list((store.root / "datasets").iterdir()) == []


def test_a_name_must_be_text(store: ModelStore) -> None:
    with pytest.raises(ValueError, match="name"):
        store.save_dataset(None, [1.0], [1.0], [1.0])  # type: ignore[arg-type]


def test_missing_and_unreadable_datasets(store: ModelStore) -> None:
    with pytest.raises(NotFound) as caught:
        store.get_dataset("ds-missing")
    assert caught.value.kind == "dataset"
    with pytest.raises(NotFound):
        store.load_dataset("ds-missing")
    info, _ = save_seed(store)
    (store.root / "datasets" / "ds-broken.json").write_text('{"id": "ds-broken"')
    assert store.list_datasets() == [info]


def test_columns_load_bit_exactly_whatever_the_numbers(store: ModelStore) -> None:
    rng = np.random.default_rng(3)
    weight = np.concatenate([rng.normal(160, 30, 5000), [1e-300, 5e-324, 1e308, -0.0, 7.0]])
    height = np.concatenate([rng.normal(66, 4, 5000), [0.1, 1 / 3, 2**-40, 1e22, 66.0]])
    label = (rng.random(weight.size) < 0.5).astype(float)
    info, _ = store.save_dataset('odd "name",\\"weight\\":[1]', weight, height, label)
    data = (store.root / "datasets" / f"{info['id']}.json").read_bytes()
    assert split_columns(data, info["id"]) is not None  # the columns are read without json
    stored = json.loads(data)
    dataset = store.load_dataset(info["id"])
    for got, column in ((dataset.X[:, 0], "weight"), (dataset.X[:, 1], "height")):
        expected = np.array(stored[column], dtype=np.float64)
        assert got.tobytes() == expected.tobytes()
    assert dataset.y.tobytes() == np.array(stored["label"], dtype=np.float64).tobytes()
    assert dataset.info == store.get_dataset(info["id"]) == info


def test_a_record_edited_by_hand_is_read_as_the_file_says(store: ModelStore) -> None:
    info, _ = save_seed(store)
    path = store.root / "datasets" / f"{info['id']}.json"
    record = json.loads(path.read_bytes())
    record["weight"][0] = 134.5  # no longer the rows the id was made from
    path.write_text(json.dumps(record, indent=2))
    dataset = store.load_dataset(info["id"])
    assert dataset.X[:, 0].tolist() == [134.5, 160.0, 152.0, 120.0]
    path.write_text(json.dumps({**record, "weight": "broken"}))
    with pytest.raises(StoreError, match="unreadable"):
        store.load_dataset(info["id"])
