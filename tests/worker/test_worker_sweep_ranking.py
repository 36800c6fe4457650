"""A sweep's ranking: trials that ran to the end by the metric, then pruned ones, then those
without a value; a sweep with failed trials still ranks the others and has a best one."""

from __future__ import annotations

from types import SimpleNamespace

from foundation.states import JobState
from worker.sweep_ranking import best, ranked


def trial(number: int, state: JobState, loss=None, accuracy=None, pruned=False):
    return SimpleNamespace(
        trial_number=number,
        state=state,
        pruned=pruned,
        progress={"validation_loss": loss},
        metrics={"validation_accuracy": accuracy},
    )


TRIALS = [
    trial(0, JobState.FAILED),
    trial(1, JobState.SUCCEEDED, loss=0.30, accuracy=0.80),
    trial(2, JobState.SUCCEEDED, loss=0.10, accuracy=0.70, pruned=True),
    trial(3, JobState.SUCCEEDED, loss=0.20, accuracy=0.85),
    trial(4, JobState.CANCELLED),
    trial(5, JobState.RUNNING, loss=0.05),
]


def test_failed_trials_rank_last_and_the_others_by_the_metric() -> None:
    by_loss = [t.trial_number for t in ranked({"metric": "validation_loss"}, TRIALS)]
    assert by_loss == [3, 1, 2, 0, 4, 5]
    by_accuracy = [t.trial_number for t in ranked({"metric": "validation_accuracy"}, TRIALS)]
    assert by_accuracy == [3, 1, 2, 0, 4, 5]
    assert best({"metric": "validation_loss"}, TRIALS).trial_number == 3


def test_a_sweep_whose_every_trial_failed_or_was_pruned_has_no_best() -> None:
    assert best({"metric": "validation_loss"}, [TRIALS[0], TRIALS[2], TRIALS[4]]) is None
