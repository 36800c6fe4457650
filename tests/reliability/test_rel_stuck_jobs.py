"""No job left behind (issue 11): each way a job used to get stuck ends in a final state.

- a lost message: the job's row was committed but its task never reached the broker (the API
  died in between, or the broker lost it): the reaper in the worker sends it again;
- a job that outlives the broker's visibility timeout: the broker delivers it again while it
  runs; the copy is dropped at once, so a short job sent meanwhile gets the free pool slot;
- a lost worker: SIGKILL of a whole worker while it trains (tests/worker/test_worker_faults.py);
- a failing write: a full disk under the object store (test_rel_store_faults.py).
"""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

from service.schemas.train import DEFAULT_HYPERPARAMETERS

from .conftest import SEED_ROWS

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]


def _wait_for_log(stack, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in (stack.root / "worker.log").read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} not in the worker's log after {timeout} s"
        time.sleep(0.1)


def _people(n: int) -> list[dict]:
    """n people, half F and half M, from a seeded generator."""
    rng = np.random.default_rng(7)
    half = n // 2
    weights = np.r_[rng.normal(135, 12, half), rng.normal(175, 15, half)].clip(80, 300)
    heights = np.r_[rng.normal(64, 2.5, half), rng.normal(70, 3, half)].clip(50, 85)
    genders = ["F"] * half + ["M"] * half
    return [
        {"weight": round(float(w), 1), "height": round(float(h), 1), "gender": g}
        for w, h, g in zip(weights, heights, genders, strict=True)
    ]


def test_a_job_whose_message_was_lost_is_sent_again_and_succeeds(stack) -> None:
    dataset_id = stack.post("/datasets", json={"rows": SEED_ROWS}).json()["id"]
    job_id = uuid.uuid4().hex
    # The row, as POST /train commits it, but no task: as if the API died before sending it.
    hyperparameters = {**DEFAULT_HYPERPARAMETERS, "epochs": 20, "seed": 3}
    stack.store.jobs.create(
        {"id": job_id, "dataset_id": dataset_id, "hyperparameters": hyperparameters}
    )

    job = stack.wait_for_job(job_id, timeout=90)

    assert job["state"] == "succeeded", job
    _wait_for_log(stack, f"job {job_id}: task sent again", timeout=5)


def test_a_redelivered_long_job_is_dropped_and_a_short_job_gets_the_slot(stack_factory) -> None:
    private = stack_factory(NNSERVICE_VISIBILITY_TIMEOUT="2", NNSERVICE_WORKER_CONCURRENCY="2")
    try:
        dataset_id = private.post("/datasets", json={"rows": SEED_ROWS}).json()["id"]
        many = private.post("/datasets", json={"rows": _people(10_000)}).json()["id"]
        # The largest job the budget allows (10^9 sample-steps): minutes of training; cancelled.
        endless = {"dataset_id": many, "hyperparameters": {"epochs": 100_000, "seed": 1}}
        long_id = private.post("/train", json=endless).json()["job_id"]
        private.wait_for_job(long_id, states=("running",))
        # The broker hands the running job's message out again after its visibility timeout.
        _wait_for_log(private, f"job {long_id} runs under", timeout=60)

        short = {"dataset_id": dataset_id, "hyperparameters": {"epochs": 20, "seed": 2}}
        short_job = private.wait_for_job(private.post("/train", json=short).json()["job_id"])

        assert short_job["state"] == "succeeded", short_job
        long_job = private.get(f"/jobs/{long_id}").json()
        assert long_job["state"] == "running" and long_job["attempts"] == 1, long_job
        assert private.delete(f"/jobs/{long_id}").status_code == 202
        assert private.wait_for_job(long_id)["state"] == "cancelled"
    finally:
        private.close()
