"""model_store: metadata in a SQL database, blobs in an object store (datasets, models'
snapshots, checkpoints), and the job leases that let workers on many hosts share the work."""

from foundation.states import STATES, TERMINAL_STATES
from model_store.datasets import Dataset
from model_store.errors import (
    AlreadyExists,
    CorruptSnapshot,
    InUse,
    InvalidId,
    InvalidPageToken,
    InvalidSnapshot,
    NotFound,
    SchemaOutOfDate,
    StoreError,
    StoreWriteError,
)
from model_store.ids import validate_id
from model_store.pages import Page
from model_store.records import (
    AliasChange,
    AliasMember,
    BatchRecord,
    DatasetRecord,
    Event,
    JobRecord,
    ModelChanges,
    ModelRecord,
    Promotion,
    SweepRecord,
)
from model_store.snapshots import validate_snapshot
from model_store.store import ModelStore

__all__ = [
    "AliasChange",
    "AliasMember",
    "BatchRecord",
    "STATES",
    "TERMINAL_STATES",
    "AlreadyExists",
    "CorruptSnapshot",
    "Dataset",
    "DatasetRecord",
    "Event",
    "InUse",
    "InvalidId",
    "InvalidPageToken",
    "InvalidSnapshot",
    "JobRecord",
    "ModelChanges",
    "ModelRecord",
    "ModelStore",
    "NotFound",
    "Page",
    "Promotion",
    "SchemaOutOfDate",
    "StoreError",
    "StoreWriteError",
    "SweepRecord",
    "TrainedModel",
    "validate_id",
    "validate_snapshot",
]


def __getattr__(name: str) -> object:
    """Import TrainedModel (and with it `neural`) only when asked for."""
    if name == "TrainedModel":
        from model_store.trained_model import TrainedModel

        return TrainedModel
    raise AttributeError(f"module 'model_store' has no attribute {name!r}")
