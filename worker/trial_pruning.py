"""Pruning a sweep's trial: the training job reports the sweep's metric on its validation rows
to its Optuna trial every `report_every` epochs (the same epochs in every trial, so the pruner
compares like with like), and stops when the sweep's pruner says the trial falls behind.

`TrialPruning.for_job` is None for a job that is no sweep's trial or whose sweep prunes
nothing; the training loop then never pays for a report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import optuna

from model_store import JobRecord, ModelStore
from worker import sweep_study

log = logging.getLogger(__name__)


class TrialPruning:
    """Reports a trial's metric and asks its sweep's pruner whether to stop."""

    def __init__(self, trial: optuna.trial.Trial, every: int, measure: Callable[[], float | None]):
        self.trial = trial
        self.every = every
        self.measure = measure

    @classmethod
    def for_job(
        cls,
        store: ModelStore,
        record: JobRecord,
        measures: Mapping[str, Callable[[], float | None]],
    ) -> TrialPruning | None:
        """The pruning of the job's trial; `measures` gives each metric's value now. None if
        the study cannot be reached now: the trial then runs to its end unpruned."""
        if record.sweep_id is None or record.trial_number is None:
            return None
        try:
            return cls._open(store, record, measures)
        except Exception as error:  # noqa: BLE001 - pruning is an optimization, never a failure
            log.warning("job %s: its trial will not be pruned (%s)", record.id, error)
            return None

    @classmethod
    def _open(
        cls,
        store: ModelStore,
        record: JobRecord,
        measures: Mapping[str, Callable[[], float | None]],
    ) -> TrialPruning | None:
        sweep = store.sweeps.get(record.sweep_id)
        spec = sweep.spec
        if spec["pruner"]["kind"] == "none":
            return None
        url = store.database_url
        study = sweep_study.load(url, sweep.id, spec)
        trial = optuna.trial.Trial(study, sweep_study.trial_id(url, sweep.id, record.trial_number))
        return cls(trial, int(spec["pruner"]["report_every"]), measures[spec["metric"]])

    def should_stop(self, epoch: int) -> bool:
        """At a report's epoch: report the metric, and whether the pruner stops the trial. A
        report the study cannot take (its database is down, or the trial was told already)
        is logged and reporting ends: the trial then runs to its end."""
        if epoch % self.every:
            return False
        value = self.measure()
        if value is None:
            return False
        try:
            self.trial.report(value, epoch)
            return self.trial.should_prune()
        except Exception as error:  # noqa: BLE001 - pruning is an optimization, never a failure
            log.warning("trial %d: no more pruning reports (%s)", self.trial.number, error)
            self.every = 2**62
            return False
