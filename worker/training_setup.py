"""What a training job derives from its record before SGD starts, reproducibly from the seed.

One seed gives three independent generators (`numpy.random.SeedSequence(seed).spawn(3)`): one
splits off the validation rows, one draws the initial weights, one shuffles each epoch. So the
split and the initial weights do not depend on how many epochs ran, and a resumed job continues
the shuffling generator from its checkpoint: the final weights are bit-identical to an
uninterrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

import neural
from foundation.hyperparameters import DEFAULTS, HYPERPARAMETERS
from foundation.measurements import MEASUREMENTS
from neural.decision import decide

if TYPE_CHECKING:
    from model_store import JobRecord

#: Hyperparameters added after jobs were first stored: a record without them (queued before
#: they existed, or imported from an older store) means their defaults, which leave training
#: as it was.
ADDED_LATER = ("early_stopping_patience", "early_stopping_min_delta")
#: What a job record's "hyperparameters" must hold (the API fills in the defaults before sending);
#: only a nullable one (the seed: the worker then draws it) or one added later may be missing.
REQUIRED = tuple(
    each.name for each in HYPERPARAMETERS if not each.nullable and each.name not in ADDED_LATER
)


def hyperparameters(record: JobRecord) -> dict:
    """The job's hyperparameters (seed None if none); ValueError naming a missing one."""
    hp = dict(record.hyperparameters or {})
    missing = [name for name in REQUIRED if name not in hp]
    if missing:
        raise ValueError(f"the job's hyperparameters lack {', '.join(missing)}")
    for name in ("seed", *ADDED_LATER):
        hp.setdefault(name, DEFAULTS[name])
    return hp


@dataclass
class Generators:
    """Independent generators for the split, the initial weights and the shuffling."""

    split: np.random.Generator
    init: np.random.Generator
    shuffle: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> Generators:
        children = np.random.SeedSequence(seed).spawn(3)
        split, init, shuffle = (np.random.default_rng(child) for child in children)
        return cls(split, init, shuffle)


@dataclass
class Split:
    """Training and validation rows, in dataset order within each part.

    X_train : ndarray of shape (n_train, 2); y_train : (n_train,); X_val and y_val likewise,
    possibly empty.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


def split_rows(X: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator) -> Split:
    """Hold out round(fraction * n) random rows (at least one row stays for training)."""
    n = X.shape[0]
    n_val = min(int(round(float(fraction) * n)), n - 1) if fraction > 0 else 0
    if n_val <= 0:
        return Split(X, y, X[:0], y[:0])
    order = rng.permutation(n)
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return Split(X[train], y[train], X[val], y[val])


def make_standardizer(kind: str, X_train: np.ndarray) -> neural.Standardizer:
    """ "standard": mean and standard deviation of the training rows; "none": mean 0, scale 1."""
    if kind == "none":
        return neural.Standardizer(mean=[0.0, 0.0], scale=[1.0, 1.0])
    if kind != "standard":
        raise ValueError(f"normalization: expected 'standard' or 'none', got {kind!r}")
    return neural.Standardizer().fit(X_train)


def input_range(X: np.ndarray) -> dict[str, list[float]]:
    """Each measurement's lowest and highest value in X (n, 2) (lb, in): the part of the plane
    the data set covers, kept in the snapshot so a picture of the model knows where to look."""
    return {
        m.name: [float(X[:, column].min()), float(X[:, column].max())]
        for column, m in enumerate(MEASUREMENTS)
    }


def layer_sizes(hidden_layers: list[int]) -> tuple[int, ...]:
    """(2 inputs, *hidden, 1 output)."""
    return (2, *(int(width) for width in hidden_layers), 1)


def early_stopping(hp: dict, split: Split) -> neural.EarlyStopping | None:
    """The job's early stopping, fresh; None when `early_stopping_patience` is null.
    ValueError if the split holds out no rows for it to watch."""
    patience = hp["early_stopping_patience"]
    if patience is None:
        return None
    if split.X_val.shape[0] == 0:
        rows = split.X_train.shape[0]
        raise ValueError(
            f"early_stopping_patience needs validation rows, and validation_fraction "
            f"{hp['validation_fraction']} of {rows} rows holds out none"
        )
    return neural.EarlyStopping(patience, float(hp["early_stopping_min_delta"]))


def resumed_early_stopping(hp: dict, saved: dict | None) -> neural.EarlyStopping | None:
    """The early stopping a checkpoint `saved` (None: it had none); ValueError unless that
    matches the job's settings."""
    patience = hp["early_stopping_patience"]
    if saved is None or patience is None:
        if saved is not None or patience is not None:
            raise ValueError("the checkpoint's early stopping differs from the job's")
        return None
    rule = neural.EarlyStopping.from_dict(saved)
    if (rule.patience, rule.min_delta) != (patience, float(hp["early_stopping_min_delta"])):
        raise ValueError("the checkpoint's early stopping differs from the job's")
    return rule


def accuracy(probabilities: np.ndarray, y: np.ndarray) -> float | None:
    """Share of rows classified right by `neural.decision` (label 1 = F); None if no rows."""
    if y.shape[0] == 0:
        return None
    predicted = decide(np.asarray(probabilities).reshape(-1))
    return float(np.mean(predicted == (y == 1.0)))
