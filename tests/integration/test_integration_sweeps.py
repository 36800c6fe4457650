"""Sweeps against the real stack: a grid ranked and its best model promoted through the gate, a
TPE search keeping `parallel` trials in flight, a pruned trial, cancelling. Every trial is an
ordinary job, run by the stack's real worker processes. A sweep's creation and end are
`sweep_state` events of GET /events, once each, around its trials' `job_state` events."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime

from people_data import example_people_tsv  # tests/people_data.py

from nnservice.client import Client

from .test_integration_jobs import upload_tsv

ENDED = ("succeeded", "failed", "cancelled")


def start_sweep(stack, **body: object) -> dict:
    response = stack.post("/sweeps", json=body)
    assert response.status_code == 202, response.text
    assert response.headers["Location"].endswith(f"/sweeps/{response.json()['sweep_id']}")
    return response.json()


def wait_for_sweep(stack, sweep_id: str, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        sweep = stack.get(f"/sweeps/{sweep_id}").json()
        if sweep["state"] in ENDED:
            return sweep
        assert time.monotonic() < deadline, sweep
        time.sleep(0.1)


def people(stack, rows: int = 1000) -> str:
    return upload_tsv(stack, f"people-{rows}", example_people_tsv(rows))["id"]


def sweep_events(stack, start: int, sweep_id: str, job_ids: list[str]) -> list[tuple[str, dict]]:
    """(type, data) of the sweep's `sweep_state` events and its trials' `job_state` events
    written after event `start`, in order."""
    return [
        (event.type, event.data)
        for event in stack.store.events.after(start, 10_000)
        if event.data.get("sweep_id") == sweep_id
        or (event.type == "job_state" and event.data["job_id"] in job_ids)
    ]


def _when(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_grid_runs_every_combination_ranks_them_and_promotes_the_best(stack) -> None:
    dataset_id = people(stack)
    start = stack.store.events.newest_id()
    started = start_sweep(
        stack,
        dataset_id=dataset_id,
        hyperparameters={"epochs": 15, "batch_size": 8},
        grid={"learning_rate": [0.5, 0.05, 0.000001], "hidden_layers": [[2]]},
        metric="validation_loss",
        promote="best",
    )
    assert len(started["job_ids"]) == 3  # a grid starts every trial at once
    sweep = wait_for_sweep(stack, started["sweep_id"])

    assert sweep["state"] == "succeeded"
    trials = sweep["trials"]
    assert sorted(t["job_id"] for t in trials) == sorted(started["job_ids"])
    assert sorted(t["params"]["learning_rate"] for t in trials) == [0.000001, 0.05, 0.5]
    assert all(t["state"] == "succeeded" and not t["pruned"] for t in trials)
    values = [t["value"] for t in trials]
    assert values == sorted(values) and [t["rank"] for t in trials] == [1, 2, 3]
    # One seed and one validation split (0.2, as the base left it at 0) for every trial.
    assert {t["hyperparameters"]["seed"] for t in trials} == {sweep["hyperparameters"]["seed"]}
    assert {t["hyperparameters"]["validation_fraction"] for t in trials} == {0.2}
    # Each trial is an ordinary job that knows its sweep, and did not promote itself.
    job = stack.get(f"/jobs/{trials[0]['job_id']}").json()
    assert job["sweep_id"] == sweep["sweep_id"] and job["promotion"]["promoted"] is False
    # The best trial's model went through the gate and is now latest.
    assert sweep["best"]["job_id"] == trials[0]["job_id"] == sweep["best_job_id"]
    assert sweep["promotion"]["promoted"] is True
    assert sweep["promotion"]["model_id"] == trials[0]["model_id"]
    assert stack.get("/models/latest").json()["id"] == trials[0]["model_id"]
    listed = stack.get("/sweeps", params={"limit": 1}).json()
    assert listed[0]["sweep_id"] == sweep["sweep_id"]

    # GET /events: the sweep's creation, its trials' job states, then its end with the best
    # trial's job, model and value and the gate's decision, as GET /sweeps/{id} has them.
    sweep_id, job_ids = sweep["sweep_id"], started["job_ids"]
    mine = sweep_events(stack, start, sweep_id, job_ids)
    empty = {"best_job_id": None, "model_id": None, "value": None, "promotion": None}
    assert mine[0] == (
        "sweep_state",
        {"sweep_id": sweep_id, "state": "running", "metric": "validation_loss", **empty},
    )
    assert mine[-1] == (
        "sweep_state",
        {
            "sweep_id": sweep_id,
            "state": "succeeded",
            "metric": "validation_loss",
            "best_job_id": sweep["best"]["job_id"],
            "model_id": sweep["best"]["model_id"],
            "value": sweep["best"]["value"],
            "promotion": sweep["promotion"],
        },
    )
    trial_states = sorted((data["job_id"], data["state"]) for _, data in mine[1:-1])
    states = ("queued", "running", "succeeded")
    assert trial_states == sorted((job_id, state) for job_id in job_ids for state in states)
    # Filtered by type, the stream carries the sweep's two events and no trial's.
    with Client(stack.base_url) as client:
        stream = client.registry_events(["sweep_state"], last_event_id=start)
        with contextlib.closing(stream):
            followed = []
            for event in stream:
                followed.append(event)
                if event.get("sweep_id") == sweep_id and event["state"] == "succeeded":
                    break
    assert {event["type"] for event in followed} == {"sweep_state"}
    assert [e["state"] for e in followed if e["sweep_id"] == sweep_id] == ["running", "succeeded"]


def test_a_tpe_search_keeps_parallel_trials_in_flight_until_it_has_run_them_all(stack) -> None:
    dataset_id = people(stack, 1000)
    started = start_sweep(
        stack,
        dataset_id=dataset_id,
        hyperparameters={"epochs": 300},  # long enough for trials to overlap
        search={
            "sampler": "tpe",
            "trials": 5,
            "parallel": 2,
            "seed": 3,
            "startup_trials": 2,
            "space": {
                "learning_rate": {"low": 0.001, "high": 1.0, "log": True},
                "hidden_layers": {"choices": [[2], [4]]},
            },
        },
        pruner={"kind": "none"},
    )
    assert len(started["job_ids"]) >= 2  # `parallel` at first (more if one ended already)
    sweep = wait_for_sweep(stack, started["sweep_id"])

    assert sweep["state"] == "succeeded" and sweep["kind"] == "tpe"
    trials = sweep["trials"]
    assert sorted(t["trial_number"] for t in trials) == [0, 1, 2, 3, 4]
    assert all(t["state"] == "succeeded" for t in trials)
    assert all(0.001 <= t["params"]["learning_rate"] <= 1.0 for t in trials)
    assert all(t["params"]["hidden_layers"] in ([2], [4]) for t in trials)
    # Never more than two trials between their job's creation and its end; two at the start.
    jobs = [stack.get(f"/jobs/{t['job_id']}").json() for t in trials]
    spans = [(_when(job["created_at"]), _when(job["finished_at"])) for job in jobs]
    in_flight = [sum(s <= start < end for s, end in spans) for start, _ in spans]
    assert max(in_flight) == 2
    assert sweep["promotion"] is None  # promote: "none" by default


def test_a_hopeless_trial_is_pruned_succeeds_and_keeps_its_model_unpromoted(stack) -> None:
    dataset_id = people(stack, 500)
    started = start_sweep(
        stack,
        dataset_id=dataset_id,
        hyperparameters={"epochs": 40, "batch_size": 4},
        search={
            "sampler": "random",
            "trials": 3,
            "parallel": 1,
            "seed": 4,  # draws 0.5, then 0.0000001 (against one ended trial), then 0.5
            "space": {"learning_rate": {"choices": [0.5, 0.0000001]}},
        },
        pruner={"kind": "median", "startup_trials": 1, "report_every": 4},
        promote="best",
        promote_alias="sweep-pruning",
    )
    sweep = wait_for_sweep(stack, started["sweep_id"])

    pruned = [t for t in sweep["trials"] if t["pruned"]]
    assert pruned, sweep["trials"]
    for trial in pruned:
        assert trial["state"] == "succeeded" and trial["params"]["learning_rate"] == 0.0000001
        assert trial["epochs"] < 40 and trial["model_id"] is not None
        job = stack.get(f"/jobs/{trial['job_id']}").json()
        assert job["pruned"] is True and job["promotion"]["promoted"] is False
    assert [t["pruned"] for t in sweep["trials"]] == [False, False, True]  # ranked last
    promoted = sweep["promotion"]
    assert promoted["promoted"] is True and promoted["model_id"] == sweep["best"]["model_id"]
    assert sweep["best"]["job_id"] not in {t["job_id"] for t in pruned}


def test_cancelling_a_sweep_stops_its_trials_and_starts_no_more(stack) -> None:
    dataset_id = people(stack, 1000)
    start = stack.store.events.newest_id()
    started = start_sweep(
        stack,
        dataset_id=dataset_id,
        hyperparameters={"epochs": 5000},
        search={
            "sampler": "random",
            "trials": 6,
            "parallel": 2,
            "space": {"learning_rate": {"low": 0.01, "high": 0.5}},
        },
    )
    response = stack.post(f"/sweeps/{started['sweep_id']}/cancel")
    assert response.status_code in (200, 202), response.text
    sweep = wait_for_sweep(stack, started["sweep_id"])

    assert sweep["state"] == "cancelled"
    assert sorted(t["job_id"] for t in sweep["trials"]) == sorted(started["job_ids"])
    ended = [data for _, data in sweep_events(stack, start, sweep["sweep_id"], [])]
    assert [data["state"] for data in ended] == ["running", "cancelled"]  # once, however raced
    assert ended[1]["best_job_id"] is None and ended[1]["promotion"] is None
    assert {t["state"] for t in sweep["trials"]} == {"cancelled"}
    again = stack.post(f"/sweeps/{started['sweep_id']}/cancel")
    assert again.status_code == 409
