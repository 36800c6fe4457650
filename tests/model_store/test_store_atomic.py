"""Atomic writes: readers never see half a file; failed writes leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_store import ModelStore, StoreWriteError
from model_store.atomic import create_exclusive, remove, write_atomic


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


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


def test_a_file_where_the_directory_should_be_fails_cleanly(tmp_path: Path, make_snapshot) -> None:
    store = ModelStore(tmp_path / "store")
    saved = store.save_snapshot(make_snapshot(job_id="j1"))
    store.promote(saved["id"])
    # Replace the jobs directory by a plain file: every job write fails with ENOTDIR.
    (tmp_path / "store" / "jobs").rmdir()
    (tmp_path / "store" / "jobs").write_text("not a directory")
    with pytest.raises(StoreWriteError, match="jobs/j2.json"):
        store.create_job({"id": "j2"})
    with pytest.raises(StoreWriteError):
        store.check_writable()
    assert store.latest_model_id() == saved["id"]


def test_check_writable_passes_on_a_healthy_store(store: ModelStore) -> None:
    store.check_writable()
    assert all(_leftovers(store.root / name) == [] for name in ("models", "jobs"))
    assert not any(p.name.startswith(".writable") for p in store.root.rglob("*"))


# A child process with RLIMIT_FSIZE set: writing past the limit fails with EFBIG (SIGXFSZ is
# ignored so the write returns an error instead of killing the process), like a full disk.
LIMITED_WRITER = """
import json, resource, signal, sys
from model_store import ModelStore, StoreError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
store = ModelStore(sys.argv[1])
snapshot = json.loads(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), int(sys.argv[3])))
results = {}
try:
    store.save_snapshot(snapshot)
    results["save"] = "saved"
except StoreError as error:
    results["save"] = f"{type(error).__name__}: {error}"
try:
    store.promote(sys.argv[4])
    results["promote"] = "promoted"
except StoreError as error:
    results["promote"] = f"{type(error).__name__}: {error}"
print(json.dumps(results))
"""


def test_a_write_failing_for_lack_of_space_leaves_no_partial_file_and_latest_intact(
    store: ModelStore, make_snapshot, run_python
) -> None:
    good = store.save_snapshot(make_snapshot(job_id="old"))
    other = store.save_snapshot(make_snapshot(job_id="other"))
    store.promote(good["id"])
    big = make_snapshot(job_id="new", id="m-new")
    big["training"]["loss_history"] = [0.5] * 5000
    process = run_python(LIMITED_WRITER, str(store.root), json.dumps(big), "0", other["id"])
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    results = json.loads(out)
    assert results["save"].startswith("StoreWriteError: cannot write models/m-new.json")
    assert "File too large" in results["save"]
    # The promotion history is written first, so its failure leaves LATEST as it was.
    assert results["promote"].startswith("StoreWriteError: cannot write models/PROMOTIONS")
    models = store.root / "models"
    assert _leftovers(models) == []
    assert sorted(p.name for p in models.iterdir()) == sorted(
        ["LATEST", "PROMOTED", "PROMOTIONS", f"{good['id']}.json", f"{other['id']}.json"]
    )
    assert store.latest_model_id() == good["id"]
    assert store.promotion_history() == [good["id"]]
    assert store.get_snapshot(good["id"]) == good


def test_a_write_cut_off_midway_leaves_no_partial_file(
    store: ModelStore, make_snapshot, run_python
) -> None:
    big = make_snapshot(job_id="new", id="m-new")
    big["training"]["loss_history"] = [0.5] * 5000
    # The limit lets part of the file be written before EFBIG: the temporary file must go.
    process = run_python(LIMITED_WRITER, str(store.root), json.dumps(big), "4096", "m-new")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    results = json.loads(out)
    assert results["save"].startswith("StoreWriteError") and "File too large" in results["save"]
    assert results["promote"].startswith("NotFound")
    assert list((store.root / "models").iterdir()) == []
    assert store.latest_model_id() is None


PROMOTER = """
import sys
from model_store import ModelStore
store = ModelStore(sys.argv[1])
ids = sys.argv[2:]
for i in range(400):
    store.promote(ids[i % len(ids)])
print("done")
"""


def test_a_reader_never_sees_a_partial_latest(store: ModelStore, make_snapshot, run_python) -> None:
    # Ids of different lengths, so a torn read would show up as a mix or a truncation.
    ids = [
        store.save_snapshot(make_snapshot(job_id="a", id="m-a"))["id"],
        store.save_snapshot(make_snapshot(job_id="b", id="m-" + "b" * 100))["id"],
    ]
    store.promote(ids[0])
    process = run_python(PROMOTER, str(store.root), *ids)
    seen = set()
    reads = 0
    while process.poll() is None or reads == 0:
        raw = (store.root / "models" / "LATEST").read_text()
        seen.add(raw)
        seen.add(store.latest_model_id())
        reads += 1
    out, err = process.communicate()
    assert out.strip() == "done", err
    assert seen <= {ids[0], ids[1], ids[0] + "\n", ids[1] + "\n"}
    assert _leftovers(store.root / "models") == []


def test_snapshot_files_are_complete_json_on_disk(store: ModelStore, make_snapshot) -> None:
    saved = store.save_snapshot(make_snapshot(job_id="j"))
    on_disk = json.loads((store.root / "models" / f"{saved['id']}.json").read_text())
    assert on_disk == saved
