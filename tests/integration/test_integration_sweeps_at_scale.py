"""A 9-trial grid on 10,000 people, on two workers at once, one of which is killed (SIGKILL)
mid-sweep: every trial still succeeds exactly once, the trials are ranked and the best model is
promoted through the gate. On the real 10,000-person data set where it is (CI), on
`nnservice example-data`'s 10,000 generated people elsewhere."""

from __future__ import annotations

import signal
import time

import pytest
from people_data import people_10k_tsv  # tests/people_data.py

from foundation.states import JobState
from nnservice.supervisor import stop_process

from .test_integration_jobs import upload_tsv
from .test_integration_sweeps import _when, start_sweep, wait_for_sweep

GRID = {"hidden_layers": [[2], [4], [8, 4]], "learning_rate": [0.3, 0.1, 0.03]}


def _finished_on(stack, log_name: str, job_ids: list[str]) -> set[str]:
    """The jobs among `job_ids` that the worker logging to `log_name` finished."""
    log = (stack.root / log_name).read_text()
    return {job for job in job_ids if f"nnservice.train[{job}] succeeded" in log}


def _running_owners(stack, job_ids: list[str]) -> dict[str, int]:
    """The running jobs among `job_ids`, each with the pid of the pool process that holds it."""
    owners = {}
    for job in job_ids:
        record = stack.store.jobs.get(job)
        if record.state == JobState.RUNNING and record.worker is not None:
            owners[job] = int(record.worker.split(":")[1])
    return owners


@pytest.mark.fault
def test_a_grid_on_two_workers_survives_killing_one_and_promotes_the_best(stack) -> None:
    if not str(stack.database_url).startswith("sqlite"):
        pytest.skip("one backend is enough for this check")
    second = stack.spawn_worker("worker-second.log")
    try:
        dataset_id = upload_tsv(stack, *people_10k_tsv())["id"]
        started = start_sweep(
            stack,
            dataset_id=dataset_id,
            hyperparameters={"epochs": 200, "batch_size": 4, "seed": 7},
            grid=GRID,
            metric="validation_accuracy",
            promote="best",
        )
        job_ids = started["job_ids"]
        assert len(job_ids) == 9
        # Once both workers train a trial at the same moment (trials overlap in time on both),
        # kill the first one: its pool child owns the lease of a trial in the middle of training.
        deadline = time.monotonic() + 150  # only bounds a broken run
        killed: list[str] = []
        while not killed:
            assert time.monotonic() < deadline, "the two workers never trained at the same time"
            children = set(stack.worker_child_pids())
            owners = _running_owners(stack, job_ids)
            on_second = [job for job, pid in owners.items() if pid not in children]
            on_first = [job for job, pid in owners.items() if pid in children]
            if on_first and on_second:
                killed = on_first
            else:
                time.sleep(0.01)
        killed_at = time.time()
        stack.kill_worker(signal.SIGKILL)
        sweep = wait_for_sweep(stack, started["sweep_id"], timeout=150)
    finally:
        stop_process(second)

    assert sweep["state"] == "succeeded"
    trials = sweep["trials"]
    assert sorted(t["trial_number"] for t in trials) == list(range(9))
    assert all(t["state"] == "succeeded" for t in trials)  # each trial is one job: once
    assert len({t["model_id"] for t in trials}) == 9
    # The trials the kill interrupted were resumed by the other worker (a second attempt).
    interrupted = [
        job for job in killed if _when(stack.get(f"/jobs/{job}").json()["finished_at"]) > killed_at
    ]
    assert interrupted
    assert all(stack.get(f"/jobs/{job}").json()["attempts"] == 2 for job in interrupted)
    values = [t["value"] for t in trials]
    assert values == sorted(values, reverse=True)  # accuracy: highest first
    # The other worker finished the interrupted trials.
    assert set(interrupted) <= _finished_on(stack, "worker-second.log", job_ids)
    assert sweep["promotion"]["promoted"] is True
    assert stack.get("/models/latest").json()["id"] == sweep["best"]["model_id"]
