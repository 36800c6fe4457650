"""The states of a training job, defined once: the store writes them, the worker moves a job
through them, the API validates filters with them and every client shows them."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """A job's life, in order: created `queued`, claimed `running`, then one of the final three.

    A `StrEnum`, so each member is the very string stored in the database and sent in JSON.
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the job has ended (no worker will change it again)."""
        return self in TERMINAL_STATES


#: Every state, in the order of a job's life.
STATES: tuple[JobState, ...] = tuple(JobState)
#: The states a job ends in.
TERMINAL_STATES: frozenset[JobState] = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}
)


class SweepState(StrEnum):
    """A sweep's life: `running` from its creation until every trial has ended, then
    `succeeded` (at least one trial succeeded), `failed` (none did) or `cancelled` (asked to
    stop: unfinished trials were cancelled, the finished ones are still ranked)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the sweep has ended."""
        return self is not SweepState.RUNNING


#: Every state of a sweep.
SWEEP_STATES: tuple[SweepState, ...] = tuple(SweepState)
