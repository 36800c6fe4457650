"""POST /predict with "explain": true against the seed's feedforward, worked out by hand.

The snapshot is the seed's 2-2-1 network with every weight and bias chosen, so each value of the
explanation can be recomputed with the seed's own formulas (`h1 = sigmoid(w1 * x[0] + w2 * x[1]
+ b1)`, ...) on the seed's shifted inputs (weight - 135, height - 66).
"""

from __future__ import annotations

import numpy as np
import pytest

from neural import Network

from .conftest import seed_feedforward


def test_explanation_follows_the_seed_formulas(stack, model_id: str) -> None:
    people = [{"weight": 128, "height": 63}, {"weight": 155, "height": 68}]
    response = stack.post(
        "/predict", json={"instances": people, "model_id": model_id, "explain": True}
    )
    assert response.status_code == 200, response.text
    for person, prediction in zip(people, response.json()["predictions"], strict=True):
        expected = seed_feedforward(person["weight"], person["height"])
        explanation = prediction["explanation"]
        assert explanation["input"] == expected["input"]
        assert explanation["normalized"] == pytest.approx(expected["normalized"], abs=1e-12)
        assert len(explanation["layers"]) == 2
        for got, want in zip(explanation["layers"], expected["layers"], strict=True):
            assert got["z"] == pytest.approx(want["z"], abs=1e-12)
            assert got["a"] == pytest.approx(want["a"], abs=1e-12)
        o1 = expected["layers"][1]["a"][0]
        assert prediction["probability_female"] == pytest.approx(o1, abs=1e-12)
        assert prediction["gender"] == ("F" if o1 >= 0.5 else "M")


def test_explanation_is_off_by_default_and_metric_input_is_shown_converted(
    stack, model_id: str
) -> None:
    plain = stack.post("/predict", json={"weight": 128, "height": 63, "model_id": model_id})
    assert "explanation" not in plain.json()["predictions"][0]
    metric = {"weight": 58.0598, "height": 160.02, "units": "metric", "explain": True}
    answer = stack.post("/predict", json={**metric, "model_id": model_id}).json()
    shown = answer["predictions"][0]["explanation"]["input"]
    assert shown == pytest.approx([128.0, 63.0], abs=1e-3)


def test_layer_values_end_in_feedforward_for_a_deeper_network() -> None:
    network = Network((2, 3, 2, 1), rng=np.random.default_rng(7))
    X = np.random.default_rng(8).normal(size=(5, 2))
    layers = network.layer_values(X)
    assert [z.shape for z, _ in layers] == [(5, 3), (5, 2), (5, 1)]
    a_prev = X
    for (z, a), w, b in zip(layers, network.weights, network.biases, strict=True):
        np.testing.assert_allclose(z, a_prev @ w.T + b, rtol=1e-12)
        np.testing.assert_allclose(a, 1 / (1 + np.exp(-z)), rtol=1e-12)
        a_prev = a
    np.testing.assert_array_equal(layers[-1][1], network.feedforward(X))
