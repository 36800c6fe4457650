"""Starting, showing and cancelling sweeps: the work behind POST /sweeps, GET /sweeps/{id} and
POST /sweeps/{id}/cancel.

The API resolves the request into the sweep's spec (defaults, the shared seed and validation
split, the pruner's cadence), stores the sweep, creates its Optuna study and makes the first
pass (`worker.sweeps.advance`): a grid's every trial, or a search's first `parallel`, become
jobs and are sent. Workers make the later passes as trials end. `worker.sweeps` (and with it
Optuna) is imported only when a sweep is started or cancelled, so the API's start stays light.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from foundation.hyperparameters import draw_seed
from foundation.states import JobState
from model_store import JobRecord, NotFound, SweepRecord
from model_store.ids import utc_now_iso
from service.api import abort, abort_unknown_reference, summarize_errors
from service.context import Services
from service.schemas.sweeps import MAX_TRIALS
from service.schemas.train import DEFAULT_HYPERPARAMETERS
from worker.sweep_ranking import ranked, trial_value

log = logging.getLogger(__name__)

#: The validation split of a sweep whose base hyperparameters hold none out.
DEFAULT_VALIDATION_FRACTION = 0.2
#: Reports per trial when the pruner's `report_every` is left out.
REPORTS_PER_TRIAL = 20
#: A search's random trials before TPE takes over: half the trials, at most this many.
MAX_STARTUP_TRIALS = 10


def _largest_epochs(data: Mapping[str, Any], base: Mapping[str, Any]) -> int:
    """The most epochs any trial may run (for the budget and the pruner's cadence)."""
    if "grid" in data and "epochs" in data["grid"]:
        return max(data["grid"]["epochs"])
    rule = data.get("search", {}).get("space", {}).get("epochs")
    if rule is not None:
        return max(rule["choices"]) if "choices" in rule else rule["high"]
    return int(base["epochs"])


def check_ranges(data: dict) -> None:
    """422 naming the field unless every range's low is below its high (and above 0 on a log
    scale), and a grid has at most MAX_TRIALS combinations."""
    errors: dict[str, Any] = {}
    for name, rule in data.get("search", {}).get("space", {}).items():
        if "low" not in rule:
            continue
        if rule["low"] >= rule["high"]:
            errors[name] = {"low": [f"Must be below high ({rule['high']})."]}
        elif rule["log"] and rule["low"] <= 0:
            errors[name] = {"low": ["Must be above 0 when log is true."]}
    if errors:
        abort(
            422,
            message=summarize_errors({"search": {"space": errors}}),
            errors={"search": {"space": errors}},
        )
    combinations = 1
    for values in (data.get("grid") or {}).values():
        combinations *= len(values)
    if combinations > MAX_TRIALS:
        message = f"The grid has {combinations} combinations; at most {MAX_TRIALS}."
        abort(422, message="the grid is too large", errors={"grid": [message]})


def resolve_spec(svc: Services, data: dict, rows: int) -> dict[str, Any]:
    """The sweep's spec: defaults filled in, one seed and one validation split, the budget
    checked (422 naming the field)."""
    base = {**DEFAULT_HYPERPARAMETERS, **data["hyperparameters"]}
    if base["seed"] is None:
        base["seed"] = draw_seed()
    if not base["validation_fraction"]:
        base["validation_fraction"] = DEFAULT_VALIDATION_FRACTION
    epochs = _largest_epochs(data, base)
    budget = svc.settings.job_budget
    if epochs * rows > budget:
        abort(
            422,
            message="a trial exceeds the training budget",
            errors={
                "hyperparameters": {
                    "epochs": [
                        f"epochs x rows = {epochs * rows} exceeds the job budget of {budget} "
                        f"sample-steps; at most {max(budget // rows, 0)} epochs for {rows} rows."
                    ]
                }
            },
        )
    search = None
    if "search" in data:
        search = dict(data["search"])
        if search["seed"] is None:
            search["seed"] = draw_seed()
        if search["startup_trials"] is None:
            search["startup_trials"] = min(MAX_STARTUP_TRIALS, max(1, search["trials"] // 2))
    pruner = {"kind": None, "startup_trials": 5, "warmup_epochs": 0, "report_every": None}
    pruner.update(data["pruner"] or {})
    if pruner["kind"] is None:
        pruner["kind"] = "median" if search is not None else "none"
    if pruner["report_every"] is None:
        pruner["report_every"] = max(1, epochs // REPORTS_PER_TRIAL)
    return {
        "hyperparameters": base,
        "grid": data.get("grid"),
        "search": search,
        "metric": data["metric"],
        "promote": data["promote"],
        "promote_alias": data["promote_alias"],
        "pruner": pruner,
    }


def _check_broker(svc: Services) -> None:
    """503 before anything is stored when the task queue cannot be reached."""
    try:
        with svc.celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_max=0.2)
    except Exception as exc:  # noqa: BLE001 - whatever stops the connection, no sweep can run
        abort(
            503,
            message=f"the task queue (Redis) is unreachable, the sweep was not created: {exc}",
            errors={"broker": [str(exc)]},
        )


def submit_sweep(svc: Services, data: dict) -> tuple[SweepRecord, list[str]]:
    """Store the sweep, create its study, start its first trials: (sweep, their job ids)."""
    from worker import sweep_study, sweeps  # Optuna: loaded only by the processes that sweep

    try:
        info = svc.store.datasets.get(data["dataset_id"])
    except NotFound:
        abort_unknown_reference(
            "dataset_id", "dataset", data["dataset_id"], " Upload it: POST /datasets."
        )
    check_ranges(data)
    spec = resolve_spec(svc, data, info.rows)
    _check_broker(svc)
    if spec["grid"] is not None:
        kind, trials = "grid", 1
        for values in spec["grid"].values():
            trials *= len(values)
        parallel = trials
    else:
        kind, trials = spec["search"]["sampler"], spec["search"]["trials"]
        parallel = min(spec["search"]["parallel"], trials)
    sweep_id = f"sw-{uuid.uuid4().hex[:24]}"
    sweep_study.create(svc.store.database_url, sweep_id, spec)
    # Created with its lease held by this request, so its first trials are this pass's.
    owner = sweeps.new_owner()
    sweep = svc.store.sweeps.create(
        sweep_id,
        info.id,
        spec,
        kind,
        trials,
        parallel,
        owner=owner,
        lease_seconds=sweeps.LEASE_SECONDS,
    )
    try:
        sweeps.advance(svc.store, svc.celery, sweep_id, owner=owner)
    except Exception:  # noqa: BLE001 - the sweep is stored: the workers' check starts its trials
        log.warning("sweep %s: its first trials were not all started", sweep_id, exc_info=True)
    return sweep, [job.id for job in svc.store.jobs.of_sweep(sweep_id)]


def cancel_sweep(svc: Services, sweep_id: str) -> tuple[dict, int]:
    """Stop the sweep: no new trials, unfinished ones cancelled. 200 once it has ended, 202 while
    running trials stop; 409 if it had ended already."""
    from worker import sweeps

    sweep = svc.store.sweeps.get(sweep_id)
    if sweep.state.is_terminal:
        abort(
            409,
            message=f"sweep {sweep_id} has already ended ({sweep.state})",
            errors={"state": [f"Only running sweeps can be cancelled; this one is {sweep.state}."]},
        )
    svc.store.sweeps.request_cancel(sweep_id)
    for job in svc.store.jobs.of_sweep(sweep_id):
        if job.state.is_terminal:
            continue
        cancelled = svc.store.jobs.transition(
            job.id, (JobState.QUEUED,), state=JobState.CANCELLED, finished_at=utc_now_iso()
        )
        if cancelled is None:
            svc.store.jobs.request_cancel(job.id)
    sweeps.advance(svc.store, svc.celery, sweep_id)
    body = sweep_body(svc, sweep_id)
    return body, 200 if body["state"] != "running" else 202


def summary(sweep: SweepRecord) -> dict[str, Any]:
    """The sweep as GET /sweeps lists it."""
    return {
        "sweep_id": sweep.id,
        "state": sweep.state,
        "created_at": sweep.created_at,
        "finished_at": sweep.finished_at,
        "dataset_id": sweep.dataset_id,
        "kind": sweep.kind,
        "metric": sweep.spec["metric"],
        "trials_total": sweep.trials,
        "parallel": sweep.parallel,
        "promote": sweep.spec["promote"],
        "promote_alias": sweep.spec["promote_alias"],
        "cancel_requested": sweep.cancel_requested,
        "best_job_id": sweep.best_job_id,
        "promotion": sweep.promotion,
    }


def _trial(spec: Mapping[str, Any], job: JobRecord, rank: int | None) -> dict[str, Any]:
    hyperparameters = job.hyperparameters or {}
    swept = spec["grid"] if spec["grid"] is not None else spec["search"]["space"]
    return {
        "rank": rank,
        "trial_number": job.trial_number,
        "job_id": job.id,
        "state": job.state,
        "pruned": job.pruned,
        "params": {name: hyperparameters.get(name) for name in sorted(swept)},
        "hyperparameters": hyperparameters,
        "epochs": (job.progress or {}).get("epoch", 0),
        "metrics": {
            **(job.metrics or {}),
            "validation_loss": (job.progress or {}).get("validation_loss"),
        },
        "value": trial_value(spec["metric"], job),
        "model_id": job.model_id,
        "error": job.error,
    }


def sweep_body(svc: Services, sweep_id: str) -> dict[str, Any]:
    """GET /sweeps/{id}: the sweep, its trials best first, its best trial."""
    sweep = svc.store.sweeps.get(sweep_id)
    spec = sweep.spec
    trials, rank = [], 0
    for job in ranked(spec, svc.store.jobs.of_sweep(sweep_id)):
        has_value = trial_value(spec["metric"], job) is not None
        rank += has_value
        trials.append(_trial(spec, job, rank if has_value else None))
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial["state"]] = counts.get(trial["state"], 0) + 1
    best = next((t for t in trials if t["value"] is not None and not t["pruned"]), None)
    return {
        **summary(sweep),
        "hyperparameters": spec["hyperparameters"],
        "grid": spec["grid"],
        "search": spec["search"],
        "pruner": spec["pruner"],
        "counts": counts,
        "trials": trials,
        "best": None
        if best is None
        else {k: best[k] for k in ("trial_number", "job_id", "model_id", "value")},
    }
