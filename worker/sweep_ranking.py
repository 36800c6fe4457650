"""A sweep's trials ranked by its metric, and its best trial: read from the trials' jobs.

Succeeded trials that ran to the end rank first, by the metric (lowest validation loss or
highest validation accuracy first); pruned trials follow, by the value they had when they were
stopped; trials without a value (failed, cancelled, unfinished) come last, by number. The best
trial is the first that succeeded without being pruned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from foundation.states import JobState
from worker.sweep_space import METRICS, metric_value


def trial_value(metric: str, job: Any) -> float | None:
    """The trial job's value of `metric` (None unless it succeeded with one)."""
    if job.state != JobState.SUCCEEDED:
        return None
    value = metric_value(metric, job.progress, job.metrics)
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def ranked(spec: Mapping[str, Any], jobs: Sequence[Any]) -> list[Any]:
    """The trial jobs, best first."""
    metric = spec["metric"]
    sign = -1.0 if METRICS[metric] else 1.0

    def key(job: Any) -> tuple:
        value = trial_value(metric, job)
        if value is None:
            return (2, 0.0, job.trial_number)
        return (1 if job.pruned else 0, sign * value, job.trial_number)

    return sorted(jobs, key=key)


def best(spec: Mapping[str, Any], jobs: Sequence[Any]) -> Any | None:
    """The best trial job: succeeded, not pruned, best value; None if there is none."""
    for job in ranked(spec, jobs):
        if not job.pruned and trial_value(spec["metric"], job) is not None:
            return job
    return None
