"""Metrics read from the store when /metrics is scraped: jobs by state, training durations, the
rows batch predictions have scored, and the model this process serves.

The worker writes everything about a job into its row, so the API reports training from the
database instead of collecting figures from the workers: two aggregate queries a scrape (jobs
by state; the duration histogram's buckets), whose cost does not depend on reading records. The
same goes for batch predictions: the worker that marks a chunk done adds its rows to a counter
row in that transaction (once per chunk, whichever worker scored it), read with one more query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from foundation.states import STATES, TERMINAL_STATES
from model_store import ModelStore
from model_store.tables import DURATION_BOUNDS


class JobFigures:
    """The store's figures of jobs and batches for one scrape."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store

    def counts(self) -> dict[str, int]:
        """{state: number of jobs}."""
        return self.store.jobs.counts()

    def durations(self) -> dict[str, tuple[list[int], int, float]]:
        """Per final state: (cumulative bucket counts, count, sum) of training seconds."""
        return self.store.jobs.duration_histogram()

    def batch_rows_scored(self) -> int:
        """Rows batch predictions have scored, ever (deleted batches' too)."""
        return self.store.batches.rows_scored()


def _duration_histogram(
    figures: dict[str, tuple[list[int], int, float]],
) -> HistogramMetricFamily:
    histogram = HistogramMetricFamily(
        "nnservice_training_duration_seconds",
        "Training time of finished jobs (finished_at - started_at of the record), by end state.",
        labels=["state"],
    )
    for state in sorted(TERMINAL_STATES):
        cumulative, count, total = figures[state]
        buckets = [
            (floatToGoString(bound), below)
            for bound, below in zip(DURATION_BOUNDS, cumulative, strict=True)
        ]
        buckets.append(("+Inf", count))
        histogram.add_metric([state], buckets, total)
    return histogram


class StoreCollector:
    """prometheus-client collector of the store's figures, for one scrape's registry."""

    def __init__(self, jobs: JobFigures, served_model_id: Callable[[], str | None]) -> None:
        self.jobs = jobs
        self.served_model_id = served_model_id

    def collect(self) -> Iterator[Metric]:
        by_state = self.jobs.counts()
        jobs = GaugeMetricFamily(
            "nnservice_training_jobs", "Training jobs in the store, by state.", labels=["state"]
        )
        for state in STATES:
            jobs.add_metric([state], by_state.get(state, 0))
        yield jobs
        yield _duration_histogram(self.jobs.durations())
        yield CounterMetricFamily(
            "nnservice_batch_rows_scored",
            "Rows scored by batch predictions on the workers (POST /batch-predictions), counted "
            "once per chunk when it is marked done; not in nnservice_predictions_total, which "
            "counts the rows predicted while the client waits.",
            value=self.jobs.batch_rows_scored(),
        )
        served = GaugeMetricFamily(
            "nnservice_served_model_info",
            "The model POST /predict (and the other protocols) use when no model is named: 1.",
            labels=["model_id"],
        )
        model_id = self.served_model_id()
        if model_id is not None:
            served.add_metric([model_id], 1)
        yield served
