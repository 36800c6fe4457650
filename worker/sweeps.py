"""Advancing a sweep: tell its study how trials ended, ask for new ones, send their jobs, end it.

Each trial is an ordinary training job whose id is `<sweep id>-<trial number>` (the number
Optuna gave the trial), so a trial can never get two jobs. One pass (`advance`) runs under the
sweep's lease (`store.sweeps.acquire`) and is safe to repeat after a crash at any point:

1. every trial whose job has ended and that the study still counts as running is told its
   result (`study.tell(..., skip_if_finished=True)`);
2. a trial the study has but no job does (the asking process died before inserting the job)
   gets its job now;
3. while fewer than `trials` were asked and fewer than `parallel` jobs are unfinished, the study
   is asked for the next trial, whose job is inserted and sent;
4. once every trial asked has ended (and no more will be asked), the trials are ranked and the
   best one's model goes through the promotion gate (`worker.promotion_gate`) as the sweep
   asked; then the sweep ends (`store.sweeps.end`: only a running sweep ends, with its one
   `sweep_state` event, so passes that race to end it write one between them).

A job inserted but not sent is sent again by the reaper (as any job); the worker that finishes a
trial calls `advance`, and the reaper's periodic pass calls it for every running sweep, so a
worker killed between a trial's end and the next trial's send loses nothing.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Mapping
from typing import Any, Protocol

import optuna
from optuna.trial import TrialState

from foundation.promotion import IF_BETTER
from foundation.states import JobState, SweepState
from model_store import AlreadyExists, JobRecord, ModelStore, NotFound, SweepRecord
from worker import promotion_gate, sweep_study
from worker.names import TRAIN_TASK
from worker.sweep_ranking import best, trial_value
from worker.sweep_space import trial_hyperparameters

log = logging.getLogger(__name__)


class TaskSender(Protocol):
    def send_task(self, name: str, kwargs: dict, task_id: str) -> object: ...


def trial_job_id(sweep_id: str, number: int) -> str:
    """The id of trial `number`'s job (also its Celery task id)."""
    return f"{sweep_id}-{number}"


#: How long a pass may hold a sweep's lease (renewed before each ask): a holder that dies
#: delays its sweep by this much at most.
LEASE_SECONDS = 15.0


def new_owner() -> str:
    """A name for one caller of `advance`: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def advance(
    store: ModelStore,
    celery: TaskSender,
    sweep_id: str,
    *,
    poke: bool = True,
    owner: str | None = None,
) -> None:
    """Bring the sweep up to date (see the module docstring); nothing if another process is
    doing it now (it sees this call's poke and makes another pass). `owner`: the name the
    caller holds the sweep's lease under already (the creator's first pass)."""
    owner = owner or new_owner()
    if poke:
        store.sweeps.poke(sweep_id)
    while True:
        seen = store.sweeps.acquire(sweep_id, owner, LEASE_SECONDS)
        if seen is None:
            return
        try:
            _Pass(store, celery, sweep_id, owner).run()
        except Exception:
            store.sweeps.release(sweep_id, owner)  # the next caller may try again at once
            raise
        if store.sweeps.release(sweep_id, owner, seen):
            return


def _tell(study: optuna.Study, number: int, spec: Mapping[str, Any], job: JobRecord) -> None:
    """Tell the study how trial `number` ended (complete with its value, pruned, or failed)."""
    if job.state == JobState.SUCCEEDED and job.pruned:
        study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
        return
    value = trial_value(spec["metric"], job)
    if value is None:
        study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    else:
        study.tell(number, value, skip_if_finished=True)


class _Pass:
    """One pass over a sweep, by the holder of its lease."""

    def __init__(self, store: ModelStore, celery: TaskSender, sweep_id: str, owner: str) -> None:
        self.store = store
        self.celery = celery
        self.sweep_id = sweep_id
        self.owner = owner
        self.url = store.database_url

    def run(self) -> None:
        sweep = self.store.sweeps.get(self.sweep_id)
        if sweep.state.is_terminal:
            return
        spec = sweep.spec
        jobs = {job.trial_number: job for job in self.store.jobs.of_sweep(sweep.id)}
        study = sweep_study.load(self.url, sweep.id, spec)  # for telling: draws nothing
        trials = study.get_trials(deepcopy=False)
        for trial in trials:
            if trial.state != TrialState.RUNNING:
                continue
            job = jobs.get(trial.number)
            if job is not None and job.state.is_terminal:
                _tell(study, trial.number, spec, job)
            elif job is None and sweep.cancel_requested:
                study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            elif job is None:
                jobs[trial.number] = self._start(sweep, trial.number, trial.params)
        asked = len(trials)
        unfinished = sum(not job.state.is_terminal for job in jobs.values())
        while not sweep.cancel_requested and asked < sweep.trials and unfinished < sweep.parallel:
            if not self.store.sweeps.renew(sweep.id, self.owner, LEASE_SECONDS):
                return  # taken over: the new holder goes on
            study = sweep_study.load(self.url, sweep.id, spec, asked)
            trial = study.ask(sweep_study.distributions(spec))
            jobs[trial.number] = self._start(sweep, trial.number, trial.params)
            asked, unfinished = asked + 1, unfinished + 1
        done = sweep.cancel_requested or asked >= sweep.trials
        if done and unfinished == 0 and all(job.state.is_terminal for job in jobs.values()):
            self._end(sweep, list(jobs.values()))

    def _start(self, sweep: SweepRecord, number: int, params: Mapping[str, Any]) -> JobRecord:
        """Insert trial `number`'s job (unless it exists) and send its task."""
        job_id = trial_job_id(sweep.id, number)
        try:
            job = self.store.jobs.create(
                {
                    "id": job_id,
                    "dataset_id": sweep.dataset_id,
                    "hyperparameters": trial_hyperparameters(sweep.spec, params),
                    "promote": False,
                    "promote_alias": sweep.spec["promote_alias"],
                    "sweep_id": sweep.id,
                    "trial_number": number,
                }
            )
        except AlreadyExists:
            return self.store.jobs.get(job_id)
        try:
            self.celery.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, task_id=job_id)
        except Exception as error:  # noqa: BLE001 - the reaper sends a queued job's task again
            log.warning(
                "sweep %s: trial %d's task not sent (%s); the reaper will", sweep.id, number, error
            )
        log.info("sweep %s: trial %d started as job %s", sweep.id, number, job_id)
        return job

    def _end(self, sweep: SweepRecord, jobs: list[JobRecord]) -> None:
        """Rank the trials, promote the best one's model as asked, end the sweep."""
        winner = best(sweep.spec, jobs)
        promotion = None
        if winner is not None and sweep.spec["promote"] != "none" and not sweep.cancel_requested:
            promotion = self._promote(sweep, winner)
        if sweep.cancel_requested:
            state = SweepState.CANCELLED
        elif winner is None:
            state = SweepState.FAILED
        else:
            state = SweepState.SUCCEEDED
        best_id = None if winner is None else winner.id
        ended = self.store.sweeps.end(
            sweep.id,
            state,
            best_id,
            promotion,
            model_id=None if winner is None else winner.model_id,
            value=None if winner is None else trial_value(sweep.spec["metric"], winner),
        )
        if ended is not None:
            log.info("sweep %s ended %s; best trial: %s", sweep.id, state, best_id)

    def _promote(self, sweep: SweepRecord, winner: JobRecord) -> dict:
        """The promotion gate's decision on the best trial's model, carried out."""
        alias = sweep.spec["promote_alias"]
        promote = IF_BETTER if sweep.spec["promote"] == "best_if_better" else True
        try:
            counts = self.store.datasets.get(sweep.dataset_id).counts
        except NotFound:  # deleted once no trial needed it: the gate then has no baseline
            counts = {}
        current = self.store.models.latest_id(alias)
        incumbent = None
        if current is not None and current != winner.model_id:
            try:
                model = self.store.models.get(current)
                incumbent = (model.id, model.metrics, model.dataset_id == sweep.dataset_id)
            except NotFound:
                incumbent = None
        decision = promotion_gate.decide(promote, alias, winner.metrics, counts, incumbent)
        if decision["promoted"] and current != winner.model_id:
            self.store.models.promote(
                winner.model_id, f"sweep {sweep.id}", alias=alias, verified=True
            )
        return {**decision, "model_id": winner.model_id}
