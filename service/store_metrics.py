"""Metrics read from the store when /metrics is scraped: jobs by state, training durations, and
the model this process serves.

The worker writes everything about a job into its record, so the API reports training from the
records instead of collecting figures from the workers. `JobFigures` keeps each job's state and
duration between scrapes and re-reads only the records whose file changed (one directory scan and
a stat per job), so a scrape stays cheap with thousands of finished jobs.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from model_store import ModelStore
from model_store.errors import StoreError
from model_store.jobs import STATES

#: Seconds of training, finished - started: seed-sized jobs take under a second, big ones hours.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 10800.0)
FINISHED_STATES = ("succeeded", "failed", "cancelled")


def training_seconds(record: dict) -> float | None:
    """finished_at - started_at of a job record in seconds, or None if it did not run to an end."""
    started, finished = record.get("started_at"), record.get("finished_at")
    if not started or not finished:
        return None
    try:
        elapsed = datetime.fromisoformat(finished) - datetime.fromisoformat(started)
    except (TypeError, ValueError):
        return None
    return max(elapsed.total_seconds(), 0.0)


class JobFigures:
    """Each job's (state, training seconds), cached per record version."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[tuple, str, float | None]] = {}

    def current(self) -> list[tuple[str, float | None]]:
        """(state, training seconds or None) of every job now in the store."""
        with self._lock:
            versions = self.store.job_versions()
            for job_id in self._jobs.keys() - versions.keys():
                del self._jobs[job_id]
            for job_id, version in versions.items():
                known = self._jobs.get(job_id)
                if known is not None and known[0] == version:
                    continue
                try:
                    record = self.store.get_job(job_id)
                except StoreError:  # removed or unreadable since the scan: count it next time
                    self._jobs.pop(job_id, None)
                    continue
                self._jobs[job_id] = (version, record.get("state"), training_seconds(record))
            return [(state, seconds) for _, state, seconds in self._jobs.values()]


def _duration_histogram(figures: list[tuple[str, float | None]]) -> HistogramMetricFamily:
    histogram = HistogramMetricFamily(
        "nnservice_training_duration_seconds",
        "Training time of finished jobs (finished_at - started_at of the record), by end state.",
        labels=["state"],
    )
    for state in FINISHED_STATES:
        seconds = [s for job_state, s in figures if job_state == state and s is not None]
        buckets = [
            (floatToGoString(bound), sum(1 for s in seconds if s <= bound))
            for bound in DURATION_BUCKETS
        ]
        buckets.append(("+Inf", len(seconds)))
        histogram.add_metric([state], buckets, sum(seconds))
    return histogram


class StoreCollector:
    """prometheus-client collector of the store's figures, for one scrape's registry."""

    def __init__(self, jobs: JobFigures, served_model_id: Callable[[], str | None]) -> None:
        self.jobs = jobs
        self.served_model_id = served_model_id

    def collect(self) -> Iterator[Metric]:
        figures = self.jobs.current()
        by_state = Counter(state for state, _ in figures)
        jobs = GaugeMetricFamily(
            "nnservice_training_jobs", "Training jobs in the store, by state.", labels=["state"]
        )
        for state in STATES:
            jobs.add_metric([state], by_state.get(state, 0))
        yield jobs
        yield _duration_histogram(figures)
        served = GaugeMetricFamily(
            "nnservice_served_model_info",
            "The model POST /predict (and the other protocols) use when no model is named: 1.",
            labels=["model_id"],
        )
        model_id = self.served_model_id()
        if model_id is not None:
            served.add_metric([model_id], 1)
        yield served
