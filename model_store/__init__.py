"""model_store: the durable, file-based store of datasets, model snapshots, jobs and checkpoints."""

from model_store.datasets import Dataset
from model_store.errors import (
    AlreadyExists,
    CorruptSnapshot,
    InvalidId,
    InvalidSnapshot,
    NotFound,
    StoreError,
    StoreWriteError,
)
from model_store.ids import validate_id
from model_store.snapshots import validate_snapshot
from model_store.store import ModelStore

__all__ = [
    "AlreadyExists",
    "CorruptSnapshot",
    "Dataset",
    "InvalidId",
    "InvalidSnapshot",
    "ModelStore",
    "NotFound",
    "StoreError",
    "StoreWriteError",
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
