"""The object store: create-only writes (exactly one of many racers), atomic replacement (no
reader sees half an object), missing objects, and failed writes that leave nothing behind."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from model_store import ModelStore, NotFound, StoreWriteError
from model_store.atomic import create_exclusive, remove, write_atomic
from model_store.objects import LocalObjects, S3Objects, open_objects
from model_store.tables import models


def _leftovers(directory: Path) -> list[str]:
    return sorted(str(p) for p in directory.rglob("*") if p.name.endswith(".tmp"))


# model_store.atomic


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two", sync_dir=False)
    assert target.read_bytes() == b"two"
    assert _leftovers(tmp_path) == []


def test_create_exclusive_creates_once(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    assert create_exclusive(target, b"first") is True
    assert create_exclusive(target, b"second") is False
    assert target.read_bytes() == b"first"
    assert _leftovers(tmp_path) == []


def test_remove_reports_whether_the_file_existed(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"x")
    assert remove(target) is True
    assert remove(target) is False


def test_write_into_a_missing_directory_raises_store_write_error(tmp_path: Path) -> None:
    with pytest.raises(StoreWriteError, match="cannot write"):
        write_atomic(tmp_path / "missing" / "f.json", b"data")
    with pytest.raises(StoreWriteError, match="cannot write"):
        create_exclusive(tmp_path / "missing" / "f.json", b"data")


# Both backends, through the store's object store


def test_create_is_create_only(store: ModelStore) -> None:
    objects = store.objects
    assert objects.create("datasets/x.npy", b"first") is True
    assert objects.create("datasets/x.npy", b"second") is False
    assert objects.get("datasets/x.npy") == b"first"
    objects.put("datasets/x.npy", b"replaced")  # put (checkpoints) replaces
    assert objects.get("datasets/x.npy") == b"replaced"
    objects.delete("datasets/x.npy")
    objects.delete("datasets/x.npy")  # deleting nothing is fine
    with pytest.raises(NotFound):
        objects.get("datasets/x.npy")
    assert objects.create("datasets/x.npy", b"again") is True


def test_of_racing_creates_exactly_one_wins(store: ModelStore) -> None:
    racers = 8
    barrier = threading.Barrier(racers)
    results: dict[int, bool] = {}

    def create(n: int) -> None:
        barrier.wait(timeout=30)
        results[n] = store.objects.create("models/m-race/sha.json", f"writer {n}".encode() * 1000)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [n for n, created in results.items() if created]
    assert len(results) == racers and len(winners) == 1, results
    assert store.objects.get("models/m-race/sha.json") == f"writer {winners[0]}".encode() * 1000


def test_a_reader_never_sees_half_an_object(store: ModelStore) -> None:
    versions = [bytes([65 + n]) * 300_000 for n in range(2)]
    store.objects.put("checkpoints/job1.json", versions[0])
    done = threading.Event()

    def write() -> None:
        try:
            for n in range(20):
                store.objects.put("checkpoints/job1.json", versions[n % 2])
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    reads = 0
    while not done.is_set() or reads == 0:
        assert store.objects.get("checkpoints/job1.json") in versions
        reads += 1
    writer.join(timeout=60)
    if isinstance(store.objects, LocalObjects):
        assert _leftovers(store.objects.root) == []


def test_check_writable_leaves_nothing(store: ModelStore) -> None:
    store.check_writable()
    with pytest.raises(NotFound):
        store.objects.get("probes/writable")


def test_open_objects_chooses_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_objects(tmp_path), LocalObjects)
    s3 = open_objects("s3://bucket/some/prefix")
    assert isinstance(s3, S3Objects) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        open_objects("s3:///prefix")


# Failed writes (local directory)


@pytest.fixture
def local_store(store: ModelStore) -> ModelStore:
    if not isinstance(store.objects, LocalObjects):
        pytest.skip("a local object store's files")
    return store


def test_a_file_in_the_way_fails_cleanly(local_store: ModelStore, make_snapshot) -> None:
    saved = local_store.models.save(make_snapshot(job_id="j1"))
    local_store.models.promote(saved["id"])
    root = local_store.objects.root
    (root / "models").rename(root / "models-aside")
    (root / "models").write_text("not a directory")
    (root / "probes").write_text("not a directory")
    with pytest.raises(StoreWriteError, match="models"):
        local_store.models.save(make_snapshot(job_id="j2", id="m-j2"))
    with pytest.raises(StoreWriteError):
        local_store.check_writable()
    assert [m.id for m in local_store.models.list().items] == [saved["id"]]
    assert local_store.models.latest_id() == saved["id"]


# A child process with RLIMIT_FSIZE set: writing past the limit fails with EFBIG (SIGXFSZ is
# ignored so the write returns an error instead of killing the process), like a full disk.
LIMITED_WRITER = """
import json, resource, signal, sys
from model_store import ModelStore, StoreError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
store = ModelStore(sys.argv[1], sys.argv[2])
snapshot = json.loads(sys.argv[3])
store.models.list()  # the database is open before the limit
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[4]), int(sys.argv[4])))
try:
    store.models.save(snapshot)
    print("saved")
except StoreError as error:
    print(f"{type(error).__name__}: {error}")
"""


@pytest.mark.parametrize("limit", [0, 4096])
def test_a_write_failing_for_lack_of_space_leaves_no_partial_object_nor_row(
    local_store: ModelStore, store_locations, make_snapshot, run_python, limit: int
) -> None:
    good = local_store.models.save(make_snapshot(job_id="old"))
    big = make_snapshot(job_id="new", id="m-new")
    big["training"]["loss_history"] = [0.5] * 5000
    process = run_python(LIMITED_WRITER, *store_locations, json.dumps(big), str(limit))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.startswith("StoreWriteError: cannot write") and "File too large" in out, out
    root = local_store.objects.root
    assert _leftovers(root) == []
    assert not (root / "models" / "m-new").exists() or not any(
        (root / "models" / "m-new").iterdir()
    )
    with local_store.engine.connect() as connection:
        ids = connection.execute(sa.select(models.c.id)).scalars().all()
    assert ids == [good["id"]]
