"""The records the store returns: immutable values with one attribute per field.

Each is what one row means to its readers (times as ISO 8601 text, as the API shows them); the
API's schemas dump their attributes as they are. JSON documents kept inside a row (a job's
progress, metrics and hyperparameters; a model's metrics) stay plain dicts, and so does a
model's snapshot, which is a document format of its own (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foundation.states import JobState, SweepState


@dataclass(frozen=True)
class DatasetRecord:
    """A stored dataset's metadata; `counts` is {"F": rows labelled female, "M": male}."""

    id: str
    name: str
    rows: int
    counts: dict[str, int]
    created_at: str


@dataclass(frozen=True)
class BlobStatus:
    """Whether a dataset's columns can be read for training: `status` is "ok", "missing" (its
    blob is gone) or "unreadable" (a blob that is not its columns, or one the store cannot
    read), with why in `error`."""

    status: str
    error: str | None = None


@dataclass(frozen=True)
class ModelRecord:
    """A stored model as listings show it; `status` is "corrupt" (with `error`) once a read
    found its snapshot damaged. `metrics` holds train_accuracy and validation_accuracy."""

    id: str
    created_at: str
    job_id: str | None
    dataset_id: str | None
    metrics: dict[str, float | None]
    is_latest: bool
    status: str
    error: str | None


@dataclass(frozen=True)
class Promotion:
    """One entry of the append-only promotion history; `seq` orders them."""

    seq: int
    model_id: str
    promoted_at: str
    promoted_by: str


@dataclass(frozen=True)
class JobRecord:
    """A training job (`promote` is true, false or "if_better"; `promotion` is the gate's
    decision once it succeeded; early stopping's outcome is kept in `progress`); the lease
    fields (`worker`, `heartbeat_at`, `cancel_requested`, `version`) are the store's and the
    workers', not in the API's body."""

    id: str
    state: JobState
    progress: dict[str, Any]
    loss_history: list[float]
    model_id: str | None
    metrics: dict[str, float | None]
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    dataset_id: str | None
    hyperparameters: dict[str, Any]
    initial_model_id: str | None
    promote: bool | str
    promote_alias: str
    promotion: dict[str, Any] | None
    attempts: int
    worker: str | None
    heartbeat_at: float | None
    cancel_requested: bool
    version: int
    #: A sweep's trial: its sweep, its number, and whether the pruner stopped it early.
    sweep_id: str | None = None
    trial_number: int | None = None
    pruned: bool = False

    @property
    def stopped_epoch(self) -> int | None:
        """The epoch after which early stopping ended training; None if it ran every epoch."""
        return (self.progress or {}).get("stopped_epoch")

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights early stopping kept; None without early stopping."""
        return (self.progress or {}).get("best_epoch")


@dataclass(frozen=True)
class SweepRecord:
    """A sweep as stored: `spec` is its request as resolved (base hyperparameters with the
    shared seed and validation split, grid or search, metric, promote, pruner); `kind` is
    "grid", "random" or "tpe"; `trials` how many in all, `parallel` at most how many at once.
    `best_job_id` and `promotion` are set when it ends; `pokes` counts trial ends."""

    id: str
    state: SweepState
    created_at: str
    finished_at: str | None
    dataset_id: str
    spec: dict[str, Any]
    kind: str
    trials: int
    parallel: int
    cancel_requested: bool
    best_job_id: str | None
    promotion: dict[str, Any] | None
    pokes: int


@dataclass(frozen=True)
class AliasMember:
    """One model of an alias and its share of the requests (`weight` out of the members' sum)."""

    model_id: str
    weight: int


@dataclass(frozen=True)
class AliasChange:
    """One entry of an alias's history: what it names from `changed_at` on (`members`: one
    model of weight 1, a split of several, or none once `removed`), and the API key's name that
    made the change (`changed_by`, or "anonymous"); `seq` orders the changes of every alias."""

    seq: int
    alias: str
    members: tuple[AliasMember, ...]
    is_split: bool
    changed_at: str
    changed_by: str

    @property
    def removed(self) -> bool:
        return not self.members

    @property
    def model_id(self) -> str | None:
        """The model it names (a split's first member); None once removed."""
        return self.members[0].model_id if self.members else None


@dataclass(frozen=True)
class BatchRecord:
    """A batch prediction as the API shows it; `confusion` is {true: {predicted: rows}} of the
    rows done (all zero without genders)."""

    id: str
    state: JobState
    model_id: str
    alias: str | None
    dataset_id: str | None
    has_gender: bool
    rows_total: int
    rows_done: int
    chunk_rows: int
    chunks_total: int
    chunks_done: int
    confusion: dict[str, dict[str, int]]
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk: rows [first_row, first_row + rows) of its batch's input."""

    batch_id: str
    chunk: int
    first_row: int
    rows: int
    state: str
    attempts: int
    owner: str | None
    heartbeat_at: float | None


@dataclass(frozen=True)
class Event:
    """One change of the registry: its id (increasing, in commit order), its type (a
    `foundation.events.EventType`), when it happened and the type's fields (`data`)."""

    id: int
    type: str
    at: str
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """The event as `GET /events` sends it: id, type and at, then the type's fields."""
        return {"id": self.id, "type": self.type, "at": self.at, **self.data}


@dataclass(frozen=True)
class ModelChanges:
    """The models created or deleted after an event id (`EventTable.model_changes_after`).

    `exists` maps each such model's id to whether its last event there was a creation (an id
    deleted and imported again exists, with a new snapshot); `newest_id` is the newest event's
    id when they were read (the id to ask after next time); `pruned` says that events after the
    id asked for were pruned (or the ids went back), so some changes may be missing."""

    newest_id: int
    exists: dict[str, bool]
    pruned: bool
