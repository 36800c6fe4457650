"""The contracts other packages rely on: names, dict formats, shapes, JSON round trips."""

from __future__ import annotations

import json

import numpy as np

import neural
from neural import Network, Standardizer


def test_public_names() -> None:
    names = ["sigmoid", "deriv_sigmoid", "mse_loss", "log_loss", "Neuron", "Network"]
    names += ["train_sgd", "TrainingState", "Standardizer", "warm_up"]
    for name in names:
        assert hasattr(neural, name), name


def test_network_dict_has_exactly_the_contract_keys_and_round_trips_bit_exact() -> None:
    network = Network((2, 4, 3, 1), rng=np.random.default_rng(0))
    data = network.to_dict()
    assert list(data) == ["layer_sizes", "weights", "biases"]
    assert data["layer_sizes"] == [2, 4, 3, 1]
    assert np.shape(data["weights"][1]) == (3, 4) and np.shape(data["biases"][1]) == (3,)
    again = Network.from_dict(json.loads(json.dumps(data)))
    assert again.layer_sizes == (2, 4, 3, 1)
    assert all(isinstance(n, int) for n in again.layer_sizes)
    for a, b in zip(again.weights + again.biases, network.weights + network.biases, strict=True):
        assert a.dtype == np.float64 and np.array_equal(a, b)


def test_from_dict_accepts_a_whole_snapshot() -> None:
    snapshot = {
        "format_version": 1,
        "id": "m-0",
        "activation": "sigmoid",
        "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
        **Network(rng=np.random.default_rng(1)).to_dict(),
    }
    network = Network.from_dict(snapshot)
    standardizer = Standardizer.from_dict(snapshot["normalization"])
    assert network.feedforward(standardizer.transform(np.array([133.0, 65.0]))).shape == (1,)


def test_feedforward_shapes() -> None:
    network = Network((2, 3, 2), rng=np.random.default_rng(0))
    batch = np.random.default_rng(1).standard_normal((5, 2))
    outputs = network.feedforward(batch)
    assert outputs.shape == (5, 2)
    assert network.feedforward(batch[0]).shape == (2,)
    np.testing.assert_array_equal(network.feedforward(batch[3]), outputs[3])
    assert ((outputs > 0) & (outputs < 1)).all()


def test_seed_weight_mapping() -> None:
    """weights[0] = [[w1, w2], [w3, w4]], biases[0] = [b1, b2], weights[1] = [[w5, w6]], [b3]."""
    w1, w2, w3, w4, w5, w6, b1, b2, b3 = np.random.default_rng(3).standard_normal(9)
    network = Network(weights=[[[w1, w2], [w3, w4]], [[w5, w6]]], biases=[[b1, b2], [b3]])
    x = np.array([-7.0, -3.0])
    h1 = neural.sigmoid(w1 * x[0] + w2 * x[1] + b1)
    h2 = neural.sigmoid(w3 * x[0] + w4 * x[1] + b2)
    assert network.feedforward(x)[0] == neural.sigmoid(w5 * h1 + w6 * h2 + b3)


def test_missing_weights_come_from_the_given_generator() -> None:
    a = Network((2, 5, 1), rng=np.random.default_rng(8))
    b = Network((2, 5, 1), rng=np.random.default_rng(8))
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != Network((2, 5, 1), rng=np.random.default_rng(9)).to_dict()
    given = Network((2, 2, 1), weights=[np.eye(2), [[1.0, 2.0]]], rng=np.random.default_rng(0))
    assert given.weights[1].tolist() == [[1.0, 2.0]] and given.biases[0].shape == (2,)


def test_standardizer_dict_and_the_seed_shift() -> None:
    shift = Standardizer(mean=[135, 66], scale=[1, 1])
    assert shift.to_dict() == {"mean": [135.0, 66.0], "scale": [1.0, 1.0]}
    assert shift.transform(np.array([[133, 65], [160, 72]])).tolist() == [[-2, -1], [25, 6]]
    data = np.random.default_rng(0).normal([150, 66], [30, 4], size=(500, 2))
    fitted = Standardizer().fit(data)
    assert fitted.fit(data) is fitted
    z = fitted.transform(data)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-12)
    again = Standardizer.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert list(fitted.to_dict()) == ["mean", "scale"]
    assert np.array_equal(again.transform(data), z)


def test_warm_up_prepares_the_compiled_default() -> None:
    assert neural.warm_up() is True
    assert neural.default_backend() == "numba"
