"""load_model: a verified snapshot becomes a network that predicts like the seed's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from model_store import CorruptSnapshot, ModelStore, TrainedModel


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def test_predict_proba_applies_normalization_then_the_network(
    store: ModelStore, make_snapshot
) -> None:
    saved = store.models.save(
        make_snapshot(normalization={"mean": [135.0, 66.0], "scale": [2.0, 4.0]})
    )
    model = store.models.load(saved["id"])
    assert isinstance(model, TrainedModel)
    assert model.model_id == saved["id"] and model.snapshot == saved
    X = np.array([[128.0, 63.0], [155.0, 68.0], [135.0, 66.0]])
    # The seed's arithmetic, written out: h = sigmoid(W1 x + b1), o = sigmoid(W2 h + b2).
    x = (X - [135.0, 66.0]) / [2.0, 4.0]
    (w1, w2), (w3, w4) = saved["weights"][0]
    (w5, w6) = saved["weights"][1][0]
    (b1, b2), (b3,) = saved["biases"]
    h1 = _sigmoid(w1 * x[:, 0] + w2 * x[:, 1] + b1)
    h2 = _sigmoid(w3 * x[:, 0] + w4 * x[:, 1] + b2)
    expected = _sigmoid(w5 * h1 + w6 * h2 + b3)
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (3,)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-15)


def test_the_seed_network_on_x_2_3(store: ModelStore, make_snapshot) -> None:
    # Seed: weights [0, 1], bias 0 everywhere, input [2, 3] -> 0.7216325609518421.
    saved = store.models.save(
        make_snapshot(
            weights=[[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0]]],
            biases=[[0.0, 0.0], [0.0]],
            normalization={"mean": [0.0, 0.0], "scale": [1.0, 1.0]},
        )
    )
    probability = store.models.load(saved["id"]).predict_proba(np.array([[2.0, 3.0]]))
    assert probability[0] == pytest.approx(0.7216325609518421, abs=1e-15)


def test_a_corrupt_model_is_not_loaded(
    store: ModelStore, make_snapshot, overwrite_object, snapshot_key
) -> None:
    saved = store.models.save(make_snapshot(id="m-c"))
    key = snapshot_key(store, "m-c")
    overwrite_object(store, key, store.objects.get(key).replace(b"0.5", b"0.6"))
    with pytest.raises(CorruptSnapshot, match="sha256"):
        store.models.load(saved["id"])
