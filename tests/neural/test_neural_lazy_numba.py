"""The compiled path's bookkeeping: numba loads only to train; the network keeps its arrays."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neural import Network, train_sgd

REPO = Path(__file__).resolve().parents[2]

PREDICT_ONLY = """
import sys
import numpy as np
import neural
from model_store.trained_model import TrainedModel
network = neural.Network((2, 2, 1), rng=np.random.default_rng(0))
standardizer = neural.Standardizer(mean=[135.0, 66.0], scale=[1.0, 1.0])
model = TrainedModel("m-x", {}, network, standardizer)
model.predict_proba(np.array([[128.0, 63.0]]))
print("numba" in sys.modules)
neural.train_sgd(network, np.zeros((2, 2)), np.zeros(2), epochs=1, learning_rate=0.1)
print("numba" in sys.modules)
"""


def test_numba_is_imported_only_when_training_needs_it() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PREDICT_ONLY], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]


def test_training_updates_the_networks_own_arrays(four_people) -> None:
    X, y = four_people
    network = Network(rng=np.random.default_rng(1))
    arrays = network.weights + network.biases
    before = [a.copy() for a in arrays]
    train_sgd(network, X, y, epochs=5, learning_rate=0.1, rng=np.random.default_rng(2))
    assert all(a is b for a, b in zip(network.weights + network.biases, arrays, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(arrays, before, strict=True))


def test_the_network_is_current_inside_on_epoch_and_after_an_error(four_people) -> None:
    X, y = four_people
    network = Network(rng=np.random.default_rng(1))
    reference = network.copy()
    arrays = network.weights + network.biases
    seen: list[list[np.ndarray]] = []

    def on_epoch(epoch: int, loss: float) -> bool:
        seen.append([a.copy() for a in network.weights + network.biases])
        if epoch == 3:
            raise RuntimeError("stop here")
        return False

    with pytest.raises(RuntimeError, match="stop here"):
        train_sgd(network, X, y, epochs=10, learning_rate=0.1, shuffle=False, on_epoch=on_epoch)
    train_sgd(reference, X, y, epochs=3, learning_rate=0.1, shuffle=False)
    final = network.weights + network.biases
    assert all(a is b for a, b in zip(final, arrays, strict=True))
    for got in (seen[-1], final):
        for a, b in zip(got, reference.weights + reference.biases, strict=True):
            assert np.array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(seen[0], seen[-1], strict=True))
