"""Deleting on the real stack, from the command line: `rm-model`, `rm-dataset` and `rm-job` are
refused (409, naming what needs the thing) while an alias or an unfinished job needs it, then
succeed; nothing else changes: other models, datasets and jobs, the served model, the listings."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_cli_against_stack import SEED_CSV, run, run_json

EMILY = ("--weight", "128", "--height", "63")


@pytest.fixture
def many_csv(tmp_path: Path) -> Path:
    """2,000 people: long enough to train that a job is still running when the test looks, and
    with men heavier and taller, so that a model beats the majority class and gets promoted."""
    path = tmp_path / "many.csv"
    rows = [
        f"{100 + i % 60 + 60 * (i % 2)},{58 + i % 9 + 8 * (i % 2)},{'FM'[i % 2]}"
        for i in range(2000)
    ]
    path.write_text("weight,height,gender\n" + "\n".join(rows) + "\n")
    return path


def _world(stack) -> dict:
    """Everything a delete must leave alone, read through the CLI's paged listings and /predict."""
    return {
        "models": run_json(stack, "models", "--all", "--page-size", "7"),
        "datasets": run_json(stack, "datasets", "--all", "--page-size", "7"),
        "jobs": {job["job_id"] for job in run_json(stack, "jobs", "--all", "--page-size", "7")},
        "served": run_json(stack, "predict", *EMILY),
    }


def _without(world: dict, kind: str, item_id: str) -> dict:
    """`world` as it should be once `item_id` of `kind` is gone."""
    expected = dict(world)
    if kind == "jobs":
        expected["jobs"] = world["jobs"] - {item_id}
    else:
        expected[kind] = [item for item in world[kind] if item["id"] != item_id]
    return expected


def _refused(stack, *args: str) -> str:
    result = run(stack, *args)
    assert result.exit_code == 1, result.output
    assert "(HTTP 409)" in result.stderr, result.stderr
    return result.stderr


def _deleted(stack, kind: str, item_id: str) -> None:
    command = {"models": "rm-model", "datasets": "rm-dataset", "jobs": "rm-job"}[kind]
    before = _world(stack)
    result = run(stack, command, item_id)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"deleted {kind[:-1]} {item_id}"
    assert _world(stack) == _without(before, kind, item_id)


def test_deletes_are_refused_while_needed_then_remove_only_their_target(
    stack, many_csv: Path, tmp_path: Path
) -> None:
    first = run_json(stack, "train", str(many_csv), "--epochs", "2", "--seed", "1", "--watch")
    model_a, dataset_d = first["model_id"], first["dataset_id"]
    stack.wait_until_served(model_a)
    assert "latest" in _refused(stack, "rm-model", model_a)

    long = run(stack, "train", str(many_csv), "--epochs", "100000", "--no-promote")
    assert long.exit_code == 0, long.output
    job_id = long.stdout.strip()
    stack.wait_for_job(job_id, states=("running",))
    assert job_id in _refused(stack, "rm-dataset", dataset_d)
    assert "running" in _refused(stack, "rm-job", job_id)
    assert run(stack, "cancel", job_id).exit_code == 0
    assert stack.wait_for_job(job_id)["state"] == "cancelled"

    _deleted(stack, "datasets", dataset_d)
    assert stack.get(f"/datasets/{dataset_d}").status_code == 404
    assert run_json(stack, "predict", *EMILY, "--model", model_a)["model_id"] == model_a
    (lineage,) = run_json(stack, "models", "--dataset", dataset_d)
    assert lineage["id"] == model_a  # its models keep the dataset's id and keep serving
    _deleted(stack, "jobs", job_id)
    assert stack.get(f"/jobs/{job_id}").status_code == 404

    seed = tmp_path / "four-people.csv"
    seed.write_text(SEED_CSV)
    model_b = run_json(stack, "train", str(seed), "--epochs", "50", "--seed", "1", "--watch")
    stack.wait_until_served(model_b["model_id"])
    for _ in range(6):  # the API processes load model A into their pinned caches
        assert run_json(stack, "predict", *EMILY, "--model", model_a)["model_id"] == model_a
    _deleted(stack, "models", model_a)
    stack.wait_until_not_served(model_a)  # the other API processes learn it at their next poll
    for _ in range(6):  # and none serves it any more
        gone = run(stack, "predict", *EMILY, "--model", model_a)
        assert gone.exit_code == 1 and "(HTTP 404)" in gone.stderr, gone.output
    assert model_a not in {model["id"] for model in run_json(stack, "models", "--all")}
    assert stack.get(f"/models/{model_a}").status_code == 404
