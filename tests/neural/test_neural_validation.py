"""Bad inputs raise clear ValueErrors instead of training into NaNs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neural import Network, Standardizer, TrainingState, train_sgd

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
y = np.array([1.0, 0.0, 1.0])


def train(**changes):
    arguments = dict(network=Network(rng=np.random.default_rng(0)), X=X, y=y, epochs=2)
    arguments.update(learning_rate=0.1)
    arguments.update(changes)
    network, data, targets = arguments.pop("network"), arguments.pop("X"), arguments.pop("y")
    return train_sgd(network, data, targets, **arguments)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"X": X[:, :1]}, "shape"),
        ({"X": X[0]}, "shape"),
        ({"X": np.empty((0, 2)), "y": np.empty(0)}, "no rows"),
        ({"y": y[:2]}, "shape"),
        ({"y": np.ones((3, 2))}, "shape"),
        ({"X": np.where(X == 2.0, np.nan, X)}, "NaN"),
        ({"X": np.where(X == 2.0, np.inf, X)}, "infinite"),
        ({"y": np.array([1.0, np.nan, 0.0])}, "NaN"),
        ({"X": [["a", "b"]] * 3}, "numeric"),
        ({"loss": "hinge"}, "unknown loss"),
        ({"loss": "log_loss", "y": np.array([2.0, 0.0, 1.0])}, "between 0 and 1"),
        ({"epochs": -1}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"learning_rate": float("inf")}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"backend": "cuda"}, "backend"),
        ({"state": {"epochs_done": 1}}, "lacks"),
    ],
)
def test_train_sgd_refuses(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train(**changes)


def test_zero_epochs_trains_nothing() -> None:
    network = Network(rng=np.random.default_rng(0))
    before = network.to_dict()
    state = train_sgd(network, X, y, epochs=0, learning_rate=0.1)
    assert state.epochs_done == 0 and state.loss_history == [] and network.to_dict() == before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"layer_sizes": (2,)}, "at least"),
        ({"layer_sizes": (2, 0, 1)}, ">= 1"),
        ({"layer_sizes": (2, 2.5, 1)}, "integer"),
        ({"layer_sizes": 3}, "sequence"),
        ({"weights": [np.ones((2, 2))]}, "2 arrays"),
        ({"weights": [np.ones((2, 2)), np.ones((2, 2))]}, r"weights\[1\] must have shape \(1, 2\)"),
        ({"biases": [np.ones(2), np.array([np.nan])]}, "NaN"),
    ],
)
def test_network_refuses(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Network(**arguments)


def test_network_inputs_are_checked() -> None:
    network = Network(rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        network.feedforward(np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        network.feedforward(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        network.feedforward(np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="unknown loss"):
        network.backprop(np.ones(2), 1.0, loss="hinge")
    with pytest.raises(ValueError, match="shape"):
        network.backprop(np.ones(2), [1.0, 0.0])
    with pytest.raises(ValueError, match="lacks"):
        Network.from_dict({"layer_sizes": [2, 2, 1], "weights": []})


def test_standardizer_checks_and_constant_columns() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        Standardizer().transform(X)
    with pytest.raises(ValueError, match="both"):
        Standardizer(mean=[0.0, 0.0])
    with pytest.raises(ValueError, match="> 0"):
        Standardizer(mean=[0.0, 0.0], scale=[1.0, 0.0])
    with pytest.raises(ValueError, match="shape"):
        Standardizer(mean=[0.0, 0.0], scale=[1.0, 1.0]).transform(np.ones((2, 3)))
    constant = np.array([[5.0, 1.0], [5.0, 3.0]])
    fitted = Standardizer().fit(constant)
    assert fitted.scale.tolist() == [1.0, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fitted.transform(constant).tolist() == [[0.0, -1.0], [0.0, 1.0]]


def test_training_state_checks() -> None:
    good = train(epochs=1).to_dict()
    with pytest.raises(ValueError, match="entries"):
        TrainingState.from_dict({**good, "loss_history": []})
    with pytest.raises(ValueError, match="rng_state"):
        TrainingState.from_dict({**good, "rng_state": {"bit_generator": "Evil"}})
    with pytest.raises(ValueError, match="invalid rng_state"):
        TrainingState.from_dict({**good, "rng_state": {"bit_generator": "PCG64", "state": 1}})


def test_saturating_raw_inputs_train_without_warnings() -> None:
    raw = np.array([[133.0, 65.0], [160.0, 72.0], [152.0, 70.0], [120.0, 60.0]]) * 50
    targets = np.array([1.0, 0.0, 0.0, 1.0])
    for backend in ("numba", "numpy"):
        for loss in ("mse", "log_loss"):
            network = Network(rng=np.random.default_rng(0))
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                state = train_sgd(
                    network, raw, targets, epochs=20, learning_rate=5.0, loss=loss,
                    backend=backend, rng=np.random.default_rng(0),
                )  # fmt: skip
            assert np.isfinite(state.loss_history).all()
            assert all(np.isfinite(w).all() for w in network.weights + network.biases)
