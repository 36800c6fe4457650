"""`nnservice sweep create|show|list|cancel`: hyperparameter sweeps over HTTP.

A sweep is given as the JSON body of POST /sweeps (a file), or built from options: `--grid
NAME=JSON-ARRAY` or `--space NAME=JSON-OBJECT` (repeatable), `--set NAME=JSON` for the base
hyperparameters, and the search's, metric's and promotion's options.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from nnservice.client_commands import Session, add_plain_row, api_command, plain_table, when_text

#: Seconds between polls of `--watch`.
WATCH_SECONDS = 1.0
ENDED = ("succeeded", "failed", "cancelled")


def _pairs(option: str, given: tuple[str, ...]) -> dict[str, Any]:
    """`NAME=JSON` options -> {name: value}; a UsageError names a bad one."""
    found: dict[str, Any] = {}
    for text in given:
        name, equals, value = text.partition("=")
        if not equals or not name.strip():
            raise click.UsageError(f"{option}: {text!r} is not NAME=JSON")
        try:
            found[name.strip()] = json.loads(value)
        except json.JSONDecodeError as error:
            raise click.UsageError(f"{option}: {name}'s value is not JSON ({error})") from None
    return found


def _body(file: Path | None, options: dict[str, Any]) -> dict[str, Any]:
    """The POST /sweeps body: the file's, with any options given on top."""
    body: dict[str, Any] = json.loads(file.read_text()) if file else {}
    if options["dataset_id"]:
        body["dataset_id"] = options["dataset_id"]
    base = _pairs("--set", options["base"])
    if base:
        body["hyperparameters"] = {**body.get("hyperparameters", {}), **base}
    if options["grid"]:
        body["grid"] = _pairs("--grid", options["grid"])
    if options["space"] or options["trials"]:
        search = dict(body.get("search", {}))
        if options["space"]:
            search["space"] = _pairs("--space", options["space"])
        for name in ("trials", "parallel", "sampler", "seed"):
            if options[name] is not None:
                search[name] = options[name]
        body["search"] = search
    for name in ("metric", "promote", "promote_alias"):
        if options[name] is not None:
            body[name] = options[name]
    if options["pruner"] is not None:
        body["pruner"] = {**body.get("pruner", {}), "kind": options["pruner"]}
    if "dataset_id" not in body:
        raise click.UsageError("name the dataset: --dataset ID (or dataset_id in FILE)")
    return body


def _value(value: Any) -> str:
    return "" if value is None else f"{value:.4f}"


def _show(session: Session, sweep: dict) -> None:
    if session.as_json:
        session.emit_json(sweep)
        return
    done = sum(sweep["counts"].get(state, 0) for state in ENDED)
    click.echo(
        f"sweep {sweep['sweep_id']} {sweep['state']}: {sweep['kind']}, {done}/"
        f"{sweep['trials_total']} trials ended, ranked by {sweep['metric']}"
    )
    table = plain_table("rank", "trial", "state", "epochs", sweep["metric"], "params", "model")
    for trial in sweep["trials"]:
        state = trial["state"] + (" (pruned)" if trial["pruned"] else "")
        params = " ".join(f"{k}={json.dumps(v)}" for k, v in trial["params"].items())
        add_plain_row(
            table,
            trial["rank"] or "",
            trial["trial_number"],
            state,
            trial["epochs"],
            _value(trial["value"]),
            params,
            trial["model_id"] or "",
        )
    session.print_table(table)
    if sweep["best"]:
        click.echo(
            f"best: trial {sweep['best']['trial_number']}, model {sweep['best']['model_id']}"
        )
    if sweep["promotion"]:
        promotion = sweep["promotion"]
        said = f"promoted to {promotion['alias']}" if promotion["promoted"] else promotion["reason"]
        click.echo(f"promotion: {said}")


def _watch(session: Session, sweep_id: str) -> dict:
    """Poll the sweep until it has ended, noting each change of its trial counts."""
    last = None
    while True:
        sweep = session.client.get_sweep(sweep_id)
        counts = sweep["counts"]
        if counts != last and not session.as_json:
            session.note(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
            last = counts
        if sweep["state"] in ENDED:
            return sweep
        time.sleep(WATCH_SECONDS)


@click.group()
def sweep() -> None:
    """Sweeps: many training jobs over a grid or a search space, ranked by a metric."""


@sweep.command("create")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--dataset", "dataset_id", metavar="ID", help="The dataset every trial trains on.")
@click.option("--set", "base", multiple=True, metavar="NAME=JSON", help="A base hyperparameter.")
@click.option(
    "--grid", multiple=True, metavar="NAME=JSON", help="Values to try: learning_rate=[0.3,0.1]."
)
@click.option(
    "--space",
    multiple=True,
    metavar="NAME=JSON",
    help='A search range: learning_rate={"low":0.01,"high":1}.',
)
@click.option("--trials", type=int, help="A search's number of trials.")
@click.option("--parallel", type=int, help="A search's trials in flight at once.")
@click.option("--sampler", type=click.Choice(["tpe", "random"]), help="A search's sampler.")
@click.option("--seed", type=int, help="A search sampler's seed.")
@click.option("--metric", type=click.Choice(["validation_loss", "validation_accuracy"]))
@click.option("--promote", type=click.Choice(["none", "best", "best_if_better"]))
@click.option("--promote-alias", help="The alias to move instead of latest.")
@click.option("--pruner", type=click.Choice(["median", "successive_halving", "none"]))
@click.option("--watch", is_flag=True, help="Wait until the sweep ends, then show it.")
@api_command
def create(session: Session, file: Path | None, watch: bool, **options: Any) -> None:
    """Start a sweep from FILE (the JSON body of POST /sweeps) and/or options; prints its id."""
    started = session.client.start_sweep(_body(file, options))
    if watch:
        _show(session, _watch(session, started["sweep_id"]))
    elif session.as_json:
        session.emit_json(started)
    else:
        click.echo(started["sweep_id"])


@sweep.command("show")
@click.argument("sweep_id", metavar="SWEEP")
@click.option("--watch", is_flag=True, help="Wait until the sweep ends first.")
@api_command
def show(session: Session, sweep_id: str, watch: bool) -> None:
    """Show a sweep: its trials ranked, the best one, the promotion."""
    sweep_body = _watch(session, sweep_id) if watch else session.client.get_sweep(sweep_id)
    _show(session, sweep_body)


@sweep.command("list")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many.")
@click.option("--state", type=click.Choice(["running", "succeeded", "failed", "cancelled"]))
@api_command
def list_sweeps(session: Session, limit: int, state: str | None) -> None:
    """Recent sweeps, newest first."""
    found = session.client.list_sweeps(limit, state=state)
    if session.as_json:
        session.emit_json(found)
        return
    table = plain_table("sweep", "state", "kind", "trials", "metric", "best job", "created")
    for item in found:
        add_plain_row(
            table,
            item["sweep_id"],
            item["state"],
            item["kind"],
            item["trials_total"],
            item["metric"],
            item["best_job_id"] or "",
            when_text(item["created_at"]),
        )
    session.print_table(table)


@sweep.command("cancel")
@click.argument("sweep_id", metavar="SWEEP")
@api_command
def cancel(session: Session, sweep_id: str) -> None:
    """Cancel a sweep: no new trials, unfinished ones cancelled (finished ones stay ranked)."""
    answer = session.client.cancel_sweep(sweep_id)
    if session.as_json:
        session.emit_json(answer)
    else:
        click.echo(f"sweep {sweep_id} {answer['state']} (cancel requested)")
