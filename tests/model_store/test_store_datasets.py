"""Datasets: content ids, bit-exact `.npy` columns, refusals naming the field, paged listings,
and a failed blob write that leaves no row."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json

import boto3
import numpy as np
import pytest

from model_store import (
    Dataset,
    InvalidPageToken,
    ModelStore,
    NotFound,
    StoreError,
    StoreWriteError,
)
from model_store.datasets import content_id, dataset_columns
from model_store.legacy_import import import_dataset
from model_store.objects import LocalObjects, S3Objects
from model_store.schema import upgrade
from model_store.tables import datasets

from .conftest import object_key_of

# The seed's four people: [weight (lb), height (in)], gender.
SEED = {"weight": [133, 160, 152, 120], "height": [65, 72, 70, 60], "label": [1, 0, 0, 1]}


def save_seed(store: ModelStore, name: str = "seed") -> tuple[dict, bool]:
    return store.datasets.save(name, SEED["weight"], SEED["height"], SEED["label"])


def save_numbered(store: ModelStore, n: int) -> dict:
    """A dataset of its own for each n (its rows differ), named str(n)."""
    return store.datasets.save(str(n), [100.0 + n, 150.0], [60.0, 70.0], [1.0, 0.0])[0]


def test_save_returns_metadata_and_created(store: ModelStore) -> None:
    info, created = save_seed(store)
    assert created is True
    assert set(dataclasses.asdict(info)) == {"id", "name", "rows", "counts", "created_at"}
    assert info.name == "seed" and info.rows == 4
    assert info.counts == {"F": 2, "M": 2}
    assert info.id.startswith("ds-") and len(info.id) == 27
    assert info.created_at.endswith("Z")
    assert store.datasets.get(info.id) == info


def test_same_rows_give_the_same_id_whatever_the_name(store: ModelStore) -> None:
    first, _ = save_seed(store, "first")
    second, created = save_seed(store, "second name")
    assert created is False
    assert second == first  # the stored dataset keeps its first name and time
    as_floats, created = store.datasets.save(
        "floats",
        np.array(SEED["weight"], dtype=np.float64),
        np.array(SEED["height"], dtype=np.float32),
        [1.0, 0.0, 0.0, 1.0],
    )
    assert created is False and as_floats.id == first.id
    assert store.datasets.list().items == [first]


def test_the_content_id_is_the_documented_derivation() -> None:
    columns = {key: [float(v) for v in values] for key, values in SEED.items()}
    canonical = json.dumps(columns, sort_keys=True, separators=(",", ":"), allow_nan=False)
    expected = "ds-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]
    assert content_id(dataset_columns(**SEED)) == expected


def test_the_id_is_the_same_in_every_store(store: ModelStore, tmp_path) -> None:
    other = ModelStore.in_directory(tmp_path / "other")
    upgrade(other.database_url)
    try:
        assert save_seed(store)[0].id == save_seed(other)[0].id
    finally:
        other.close()


def test_different_rows_give_different_ids(store: ModelStore) -> None:
    base, _ = save_seed(store)
    reordered, _ = store.datasets.save(
        "r", SEED["weight"][::-1], SEED["height"][::-1], [1, 0, 0, 1]
    )
    relabelled, _ = store.datasets.save("l", SEED["weight"], SEED["height"], [1, 0, 1, 1])
    assert len({base.id, reordered.id, relabelled.id}) == 3
    assert relabelled.counts == {"F": 3, "M": 1}


def test_load_dataset_gives_arrays_in_feature_order(store: ModelStore) -> None:
    info, _ = save_seed(store)
    dataset = store.datasets.load(info.id)
    assert isinstance(dataset, Dataset)
    assert dataset.info == info
    assert dataset.X.dtype == np.float64 and dataset.X.shape == (4, 2)
    assert dataset.X.flags.c_contiguous
    np.testing.assert_array_equal(dataset.X[:, 0], SEED["weight"])
    np.testing.assert_array_equal(dataset.X[:, 1], SEED["height"])
    np.testing.assert_array_equal(dataset.y, SEED["label"])
    assert dataset.y.dtype == np.float64


def test_columns_load_bit_exactly_whatever_the_numbers(store: ModelStore) -> None:
    rng = np.random.default_rng(3)
    extremes = [1e-300, 5e-324, 1e308, -0.0, 0.1 + 0.2, 1 / 3, 2**-40, -1e22]
    weight = np.concatenate([rng.normal(160, 30, 5000), extremes])
    height = np.concatenate([rng.normal(66, 4, 5000), extremes[::-1]])
    label = (rng.random(weight.size) < 0.5).astype(np.float64)
    info, _ = store.datasets.save('odd "name",\\"weight\\":[1]', weight, height, label)
    dataset = store.datasets.load(info.id)
    assert dataset.X[:, 0].tobytes() == weight.tobytes()
    assert dataset.X[:, 1].tobytes() == height.tobytes()
    assert dataset.y.tobytes() == label.tobytes()
    assert dataset.info == store.datasets.get(info.id) == info
    assert info.name == 'odd "name",\\"weight\\":[1]'
    assert info.counts == {"F": int(label.sum()), "M": int(label.size - label.sum())}


def test_the_blob_is_one_npy_array(store: ModelStore) -> None:
    info, _ = save_seed(store)
    with store.engine.connect() as connection:
        key = connection.execute(
            datasets.select().with_only_columns(datasets.c.object_key)
        ).scalar_one()
    assert key == f"datasets/{info.id}.npy"
    data = store.objects.get(key)
    assert data.startswith(b"\x93NUMPY")
    array = np.load(io.BytesIO(data), allow_pickle=False)
    assert array.dtype == np.float64 and array.shape == (4, 3)
    assert array.tolist() == [list(map(float, row)) for row in zip(*SEED.values(), strict=True)]


def test_returned_metadata_can_be_changed_safely(store: ModelStore) -> None:
    info, _ = save_seed(store)
    fetched = store.datasets.get(info.id)
    fetched.counts["F"] = 99
    with pytest.raises(dataclasses.FrozenInstanceError):
        fetched.name = "changed"  # type: ignore[misc]
    assert store.datasets.get(info.id) == info


UNUSABLE = [
    ([], [], [], "empty"),
    ([1.0, 2.0], [1.0], [1.0, 0.0], "differ in length"),
    ([1.0], [1.0], [0.5], "^label: "),
    ([float("nan")], [1.0], [1.0], "^weight: every value must be finite"),
    ([1.0], [float("inf")], [1.0], "^height: every value must be finite"),
    ([[1.0, 2.0]], [1.0], [1.0], "^weight: expected a 1-D array"),
    (["a"], [1.0], [1.0], "^weight: expected numbers"),
    ([1.0], None, [1.0], "^height: "),
    ([1.0], [1.0], "F", "^label: expected numbers"),
]


def test_unusable_columns_are_refused_naming_the_field(store: ModelStore) -> None:
    for weight, height, label, message in UNUSABLE:
        with pytest.raises(ValueError, match=message):
            store.datasets.save("bad", weight, height, label)
    assert store.datasets.list().items == []


def test_a_name_must_be_text(store: ModelStore) -> None:
    with pytest.raises(ValueError, match="^name: "):
        store.datasets.save(None, [1.0], [1.0], [1.0])  # type: ignore[arg-type]
    assert store.datasets.list().items == []


def test_missing_datasets(store: ModelStore) -> None:
    with pytest.raises(NotFound) as caught:
        store.datasets.get("ds-missing")
    assert (caught.value.kind, caught.value.id) == ("dataset", "ds-missing")
    with pytest.raises(NotFound):
        store.datasets.load("ds-missing")


def test_a_damaged_or_missing_blob_is_unreadable(store: ModelStore, overwrite_object) -> None:
    info, _ = save_seed(store)
    key = f"datasets/{info.id}.npy"
    overwrite_object(store, key, b"\x93NUMPY truncated")
    with pytest.raises(StoreError, match="unreadable"):
        store.datasets.load(info.id)
    wrong = io.BytesIO()  # a good .npy, of the wrong dtype and shape
    np.save(wrong, np.arange(4, dtype=np.int64))
    overwrite_object(store, key, wrong.getvalue())
    with pytest.raises(StoreError, match="not an \\(n, 3\\) float64 array"):
        store.datasets.load(info.id)
    store.objects.delete(key)
    with pytest.raises(StoreError, match="columns are missing"):
        store.datasets.load(info.id)
    assert store.datasets.get(info.id) == info  # the metadata is still there


def test_a_blob_is_checked_and_a_lost_one_is_restored_by_saving_the_rows_again(
    store: ModelStore,
) -> None:
    info, _ = save_seed(store)
    assert store.datasets.check(info.id).status == "ok"
    key = object_key_of(store, datasets, info.id)
    assert store.objects.exists(key)
    store.objects.delete(key)  # lost behind the store's back
    assert not store.objects.exists(key)
    lost = store.datasets.check(info.id)
    assert lost.status == "missing" and "upload the same rows again" in lost.error
    again, created = save_seed(store, "again")
    assert created is False and again == info  # the same dataset, first name and time
    assert object_key_of(store, datasets, info.id) == key and store.objects.exists(key)
    assert store.datasets.check(info.id).status == "ok"
    loaded = store.datasets.load(info.id)
    assert loaded.X.tolist() == [
        list(pair) for pair in zip(SEED["weight"], SEED["height"], strict=True)
    ]
    assert loaded.y.tolist() == SEED["label"]


def test_a_damaged_blob_is_reported_and_not_replaced(store: ModelStore, overwrite_object) -> None:
    info, _ = save_seed(store)
    key = object_key_of(store, datasets, info.id)
    overwrite_object(store, key, b"\x93NUMPY truncated")
    damaged = store.datasets.check(info.id)
    assert damaged.status == "unreadable" and info.id in damaged.error
    save_seed(store)  # create-only: an existing blob is never overwritten
    assert store.datasets.check(info.id).status == "unreadable"
    with pytest.raises(NotFound):
        store.datasets.check("ds-missing")


# Listing


def _ids(items: list[dict]) -> list[str]:
    return [item.id for item in items]


def _all_pages(store: ModelStore, limit: int) -> list[list[str]]:
    pages, token = [], None
    while True:
        page = store.datasets.list(limit=limit, page_token=token)
        pages.append(_ids(page.items))
        token = page.next_token
        if token is None:
            return pages


def test_list_datasets_newest_first(store: ModelStore) -> None:
    first, _ = save_seed(store)
    second = save_numbered(store, 1)
    page = store.datasets.list()
    assert page.items == [second, first] and page.next_token is None


def test_pages_cover_every_dataset_once_in_order(store: ModelStore) -> None:
    saved = [save_numbered(store, n) for n in range(7)]
    newest_first = _ids(sorted(saved, key=lambda d: (d.created_at, d.id), reverse=True))
    assert newest_first[0] == saved[-1].id and newest_first[-1] == saved[0].id
    for limit in (1, 2, 3, 7, 100):
        pages = _all_pages(store, limit)
        assert [len(page) for page in pages[:-1]] == [limit] * (len(pages) - 1)
        assert 1 <= len(pages[-1]) <= limit
        assert [i for page in pages for i in page] == newest_first, limit


def test_pages_split_datasets_of_the_same_instant_by_id(store: ModelStore) -> None:
    same_time = "2026-01-02T03:04:05.000006Z"
    ids = []
    for n in range(5):
        record = {
            "name": str(n),
            "weight": [100.0 + n],
            "height": [60.0],
            "label": [1.0],
            "created_at": same_time,
        }
        assert import_dataset(store, record) is True
        ids.append(content_id(dataset_columns(record["weight"], [60.0], [1.0])))
    later = save_numbered(store, 99)
    expected = [later.id, *sorted(ids, reverse=True)]
    assert [i for page in _all_pages(store, 2) for i in page] == expected
    assert store.datasets.get(ids[0]).created_at == same_time


def test_a_page_token_keeps_working_as_new_datasets_arrive(store: ModelStore) -> None:
    saved = [save_numbered(store, n) for n in range(4)]
    first = store.datasets.list(limit=2)
    save_numbered(store, 10)  # newer: it belongs before the first page, not on the next
    second = store.datasets.list(limit=2, page_token=first.next_token)
    assert _ids(first.items) == [saved[3].id, saved[2].id]
    assert _ids(second.items) == [saved[1].id, saved[0].id]
    assert second.next_token is None


def _token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


FOREIGN_TOKENS = [
    "garbage!",
    "",
    _token({"a": 1}),
    _token([1.5, "ds-x"]),
    _token([True, "ds-x"]),
    _token([1, "../etc"]),
    _token([1, "ds-x", 3]),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
]


def test_a_token_this_store_did_not_hand_out_is_refused(store: ModelStore) -> None:
    save_seed(store)
    for token in FOREIGN_TOKENS:
        with pytest.raises(InvalidPageToken, match="page_token"):
            store.datasets.list(limit=1, page_token=token)
            pytest.fail(f"accepted {token!r}")


def test_a_limit_out_of_range_is_refused(store: ModelStore) -> None:
    for limit in (0, -1, 1001):
        with pytest.raises(ValueError, match="^limit: "):
            store.datasets.list(limit=limit)
    assert store.datasets.list(limit=1000).items == []


# A failed write


@pytest.fixture
def broken_objects(store: ModelStore, tmp_path):
    """An object store on the same backend that refuses every dataset write: a file where the
    `datasets/` directory should be, or credentials the S3 server does not accept."""
    if isinstance(store.objects, LocalObjects):
        root = tmp_path / "broken-objects"
        root.mkdir()
        (root / "datasets").write_text("not a directory")
        return LocalObjects(root)
    assert isinstance(store.objects, S3Objects)
    client = boto3.client("s3", aws_access_key_id="nobody", aws_secret_access_key="wrong")
    return S3Objects(store.objects.bucket, store.objects.prefix, client=client)


def test_a_failed_blob_write_leaves_no_row(store: ModelStore, broken_objects) -> None:
    broken = ModelStore(store.database_url, broken_objects)
    try:
        with pytest.raises(StoreWriteError):
            save_seed(broken)
        assert broken.datasets.list().items == []
        assert store.datasets.list().items == []
        with pytest.raises(NotFound):
            store.datasets.get(content_id(dataset_columns(**SEED)))
    finally:
        broken.close()
    info, created = save_seed(store)  # once writes work again, the same rows save normally
    assert created is True and store.datasets.load(info.id).X.shape == (4, 2)
