"""Store faults for real (issue 4, item 3): broken snapshot files, and a write that fails.

Snapshot files are broken on disk behind the API's back (truncated, not JSON, valid JSON whose
sha256 no longer matches); the API, a real gunicorn process, must never serve them. The failing
write is a worker whose file-size limit (RLIMIT_FSIZE, as a full disk or a quota would) is smaller
than the snapshot it has to write: the job must fail saying so, leaving no partial file and LATEST
where it was.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from .conftest import EMILY, SEED_ROWS, SNAPSHOT

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-25])


def _not_json(path: Path) -> None:
    path.write_bytes(b"\x00\x01 this is not JSON")


def _tamper(path: Path) -> None:
    """Valid JSON, a changed weight, the old sha256: only the checksum can tell."""
    snapshot = json.loads(path.read_bytes())
    snapshot["weights"][1][0][0] = -snapshot["weights"][1][0][0]
    path.write_text(json.dumps(snapshot))


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (_truncate, "not valid JSON"),
    "not JSON": (_not_json, "not valid JSON"),
    "sha256 mismatch": (_tamper, "sha256 does not match"),
}


def test_corrupt_snapshots_are_never_served(api_process, tmp_path: Path) -> None:
    """One API worker process, so "the model it served last" is one thing to check against."""
    api = api_process(
        "api-store-faults.log", NNSERVICE_STORE=str(tmp_path), NNSERVICE_API_WORKERS="1"
    )
    http = requests.Session()

    def imported(**changes: object) -> str:
        response = http.post(api.url("/models"), json={**SNAPSHOT, **changes})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def predicted(**body: object) -> requests.Response:
        return http.post(api.url("/predict"), json={**EMILY, **body})

    good = imported()
    assert http.post(api.url(f"/models/{good}/promote")).status_code == 200
    assert predicted().json()["model_id"] == good

    for name, (corrupt, reason) in CORRUPTIONS.items():
        bad = imported(loss="log_loss")
        assert http.post(api.url(f"/models/{bad}/promote")).status_code == 200
        corrupt(tmp_path / "models" / f"{bad}.json")

        served = predicted()  # LATEST names the corrupt file: the last good model answers
        assert served.status_code == 200, (name, served.text)
        assert served.json()["model_id"] == good, name
        for response in (
            predicted(model_id=bad),
            http.get(api.url(f"/models/{bad}")),
            http.get(api.url("/models/latest")),
            http.post(api.url(f"/models/{bad}/promote")),
        ):
            assert response.status_code == 409, (name, response.text)
            assert bad in response.json()["message"] and reason in response.json()["message"]
            assert list(response.json()["errors"]) == ["model_id"]
        listing = {entry["id"]: entry for entry in http.get(api.url("/models")).json()}
        assert listing[bad]["status"] == "corrupt" and reason in listing[bad]["error"], name
        assert listing[bad]["is_latest"] and listing[good]["status"] == "ok", name

    fixed = imported(loss="mse", biases=[[0.5, 0.5], [0.0]])
    assert http.post(api.url(f"/models/{fixed}/promote")).status_code == 200
    assert predicted().json()["model_id"] == fixed


FILE_SIZE_LIMIT = 64 * 1024


def _limited_worker(stack, log: Path) -> subprocess.Popen:
    """`nnservice worker` that cannot write a file beyond FILE_SIZE_LIMIT bytes (EFBIG)."""

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))

    with open(log, "wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "nnservice.cli", "worker"],
            env=stack.env(),
            cwd=stack.root,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=limit_file_size,
        )


def test_a_snapshot_that_cannot_be_written_fails_the_job_cleanly(stack_factory) -> None:
    private = stack_factory(NNSERVICE_WORKER_CONCURRENCY="1", NNSERVICE_CHECKPOINT_SECONDS="3600")
    try:
        small = {"rows": SEED_ROWS, "hyperparameters": {"epochs": 50, "seed": 1}}
        first = private.wait_for_job(private.post("/train", json=small).json()["job_id"])
        assert first["state"] == "succeeded", first  # also leaves numba's kernel cache written
        good = first["model_id"]
        latest = private.store.root / "models" / "LATEST"
        assert latest.read_text().strip() == good

        private.kill_worker(signal.SIGTERM)
        private.worker = _limited_worker(private, private.root / "worker-limited.log")
        # 20,000 epochs: the snapshot keeps every epoch's loss (~400 kB), the job record at
        # most 1,000 of them (~20 kB), so only the snapshot is over the limit.
        big = {"rows": SEED_ROWS, "hyperparameters": {"epochs": 20_000, "seed": 2}}
        job = private.wait_for_job(private.post("/train", json=big).json()["job_id"], timeout=90)

        assert job["state"] == "failed", job
        model_file = f"models/m-{job['id']}.json"
        assert job["error"] == f"saving the model failed: cannot write {model_file}: File too large"
        assert job["model_id"] is None
        assert not (private.store.root / model_file).exists()
        remaining = sorted(path.name for path in (private.store.root / "models").iterdir())
        # no temporary or partial file
        assert remaining == ["LATEST", "PROMOTED", "PROMOTIONS", f"{good}.json"]
        assert latest.read_text().strip() == good
        assert private.post("/predict", json=EMILY).json()["model_id"] == good
        assert private.store.load_checkpoint(job["id"]) is None
    finally:
        private.close()
