"""The worker's part in sweeps: advance a trial's sweep when its job ends, and check every
running sweep now and then (the reaper), so a worker lost between a trial's end and the next
trial's start delays the sweep by one check at most."""

from __future__ import annotations

import logging

from foundation.states import TERMINAL_STATES
from model_store import ModelStore
from worker.sweeps import TaskSender, advance

log = logging.getLogger(__name__)


def after_trial(store: ModelStore, celery: TaskSender, job_id: str, outcome: str) -> None:
    """If the job that just ended is a sweep's trial, advance its sweep (errors only logged:
    the reaper's check does it later)."""
    if outcome not in TERMINAL_STATES:
        return
    try:
        sweep_id = store.jobs.get(job_id).sweep_id
        if sweep_id is not None:
            advance(store, celery, sweep_id)
    except Exception:  # noqa: BLE001 - the store or broker may be down: the reaper retries
        log.warning("job %s: its sweep was not advanced; the reaper will", job_id, exc_info=True)


def check_sweeps(store: ModelStore, celery: TaskSender) -> None:
    """Advance every running sweep (the reaper's pass): tell ended trials, start missing ones,
    end finished sweeps."""
    for sweep_id in store.sweeps.running_ids():
        try:
            advance(store, celery, sweep_id, poke=False)
        except Exception:  # noqa: BLE001 - one broken sweep must not stop the others
            log.warning("sweep %s: the check failed; trying again later", sweep_id, exc_info=True)
