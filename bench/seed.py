"""The seed walkthrough for the benchmarks: its people and its job, from docs/seed_walkthrough.json.

The same file drives the README's curl lines and the integration test suite, so every
benchmark's "seed job" is the walkthrough's own request body.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import neural

REPO = Path(__file__).resolve().parents[1]
WALKTHROUGH = json.loads((REPO / "docs/seed_walkthrough.json").read_text())
#: POST /datasets body: Alice, Bob, Charlie, Diana.
UPLOAD = WALKTHROUGH["upload"]
#: The walkthrough's hyperparameters: one hidden layer of 2, 1000 epochs, lr 0.1, a fixed seed.
HYPERPARAMETERS = WALKTHROUGH["train"]["hyperparameters"]


def seed_arrays() -> tuple[np.ndarray, np.ndarray]:
    """X (4, 2) in lb and in, y (4,) with 1.0 = F."""
    rows = UPLOAD["rows"]
    X = np.array([[row["weight"], row["height"]] for row in rows], dtype=np.float64)
    y = np.array([1.0 if row["gender"] == "F" else 0.0 for row in rows])
    return X, y


def train_seed_network(epochs: int) -> tuple[neural.Network, neural.Standardizer, float]:
    """The walkthrough's training in memory (standardized, 2-2-1, lr 0.1): network, scaler, loss."""
    X, y = seed_arrays()
    standardizer = neural.Standardizer().fit(X)
    network = neural.Network((2, 2, 1), rng=np.random.default_rng(HYPERPARAMETERS["seed"]))
    state = neural.train_sgd(
        network,
        standardizer.transform(X),
        y,
        epochs=epochs,
        learning_rate=HYPERPARAMETERS["learning_rate"],
        rng=np.random.default_rng(HYPERPARAMETERS["seed"]),
    )
    return network, standardizer, state.loss_history[-1]
