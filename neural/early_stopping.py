"""Early stopping: end training once the validation loss stops improving, keep the best epoch.

The rule is Keras's `EarlyStopping(restore_best_weights=True)` and scikit-learn's
`n_iter_no_change`/`tol`: an epoch improves when its validation loss is below the best so far
minus `min_delta`; after `patience` epochs in a row without an improvement training stops, and
the network gets the best epoch's weights back. `EarlyStopping` is plain state that turns into
JSON data and back exactly, so a checkpoint carries it and a resumed run decides as an
uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neural import _validation as check
from neural.network import Network


@dataclass
class EarlyStopping:
    """The early-stopping rule (`patience`, `min_delta`) and what it has seen so far.

    `best_loss` is the best validation loss (None before the first epoch), `best_epoch` the
    epoch (counted from 1) that reached it and `best_weights`/`best_biases` the network's
    parameters after that epoch; `epochs_since_improvement` counts the epochs after it, and
    `stopped_epoch` is the epoch after which training stopped (None while it goes on).
    """

    patience: int
    min_delta: float = 0.0
    best_loss: float | None = None
    best_epoch: int = 0
    best_weights: list[np.ndarray] = field(default_factory=list)
    best_biases: list[np.ndarray] = field(default_factory=list)
    epochs_since_improvement: int = 0
    stopped_epoch: int | None = None

    def __post_init__(self) -> None:
        self.patience = check.integer(self.patience, "patience", 1)
        self.min_delta = check.non_negative_float(self.min_delta, "min_delta")

    @property
    def stopped(self) -> bool:
        """Whether the rule has ended training."""
        return self.stopped_epoch is not None

    def update(self, epoch: int, validation_loss: float, network: Network) -> bool:
        """Take `epoch`'s validation loss (with `network` as that epoch left it); return
        whether training stops after it."""
        best = self.best_loss
        if best is None or validation_loss < best - self.min_delta:
            self.best_loss = float(validation_loss)
            self.best_epoch = int(epoch)
            self.best_weights = [w.copy() for w in network.weights]
            self.best_biases = [b.copy() for b in network.biases]
            self.epochs_since_improvement = 0
        else:
            self.epochs_since_improvement += 1
            if self.epochs_since_improvement >= self.patience:
                self.stopped_epoch = int(epoch)
        return self.stopped

    def restore(self, network: Network) -> None:
        """Copy the best epoch's parameters into `network`'s arrays (nothing before an epoch)."""
        if self.best_loss is None:
            return
        for target, source in zip(
            network.weights + network.biases, self.best_weights + self.best_biases, strict=True
        ):
            target[...] = source

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, ints and floats: `from_dict(json.loads(json.dumps(d)))` is exact."""
        return {
            "patience": self.patience,
            "min_delta": self.min_delta,
            "best_loss": self.best_loss,
            "best_epoch": self.best_epoch,
            "best_weights": [w.tolist() for w in self.best_weights],
            "best_biases": [b.tolist() for b in self.best_biases],
            "epochs_since_improvement": self.epochs_since_improvement,
            "stopped_epoch": self.stopped_epoch,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EarlyStopping:
        """Rebuild from `to_dict()` output; ValueError naming what is missing or wrong."""
        try:
            best_loss = data["best_loss"]
            stopped = data["stopped_epoch"]
            rule = cls(
                patience=data["patience"],
                min_delta=data["min_delta"],
                best_loss=None if best_loss is None else float(best_loss),
                best_epoch=check.integer(data["best_epoch"], "best_epoch", 0),
                best_weights=[check.finite_array(w, "best_weights") for w in data["best_weights"]],
                best_biases=[check.finite_array(b, "best_biases") for b in data["best_biases"]],
                epochs_since_improvement=check.integer(
                    data["epochs_since_improvement"], "epochs_since_improvement", 0
                ),
                stopped_epoch=None
                if stopped is None
                else check.integer(stopped, "stopped_epoch", 1),
            )
        except KeyError as exc:
            raise ValueError(f"early stopping state lacks {exc.args[0]!r}") from exc
        if (rule.best_loss is None) != (rule.best_epoch == 0):
            raise ValueError("early stopping state: best_loss and best_epoch disagree")
        return rule
