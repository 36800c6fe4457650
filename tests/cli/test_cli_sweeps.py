"""`nnservice sweep` against the real stack: create a small grid from options, watch it end,
show it ranked, list it; a bad range is refused naming the field."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nnservice.cli import main

from .test_cli_against_stack import WALKTHROUGH


def run(stack, *args: str):
    return CliRunner().invoke(main, list(args), env={"NNSERVICE_URL": stack.base_url})


def test_a_grid_from_options_is_watched_to_its_end_shown_ranked_and_listed(stack) -> None:
    rows = WALKTHROUGH["upload"]["rows"]
    dataset_id = stack.post("/datasets", json={"name": "seed", "rows": rows}).json()["id"]

    created = run(
        stack,
        "sweep",
        "create",
        "--dataset",
        dataset_id,
        "--set",
        "epochs=20",
        "--grid",
        "learning_rate=[0.5, 0.05]",
        "--json",
        "--watch",
    )
    assert created.exit_code == 0, created.output
    sweep = json.loads(created.stdout)
    assert sweep["state"] == "succeeded" and len(sweep["trials"]) == 2

    shown = run(stack, "sweep", "show", sweep["sweep_id"])
    assert shown.exit_code == 0, shown.output
    assert f"sweep {sweep['sweep_id']} succeeded" in shown.output
    assert "learning_rate=0.5" in shown.output and "best: trial" in shown.output
    listed = run(stack, "sweep", "list", "--limit", "5")
    assert sweep["sweep_id"] in listed.output

    refused = run(
        stack,
        "sweep",
        "create",
        "--dataset",
        dataset_id,
        "--trials",
        "2",
        "--space",
        'learning_rate={"low": 0, "high": 1}',
    )
    assert refused.exit_code == 1
    assert "search.space.learning_rate.low" in refused.output
