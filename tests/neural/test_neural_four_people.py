"""Acceptance 2: trained on the seed's four people, every seed tells Emily from Frank."""

from __future__ import annotations

import numpy as np
import pytest

from neural import Network, Standardizer, train_sgd

SEED_SHIFT = Standardizer(mean=[135, 66], scale=[1, 1])


@pytest.mark.parametrize("seed", range(20))
def test_emily_is_female_and_frank_is_male(seed: int, four_people) -> None:
    X, y = four_people
    network = Network((2, 2, 1), rng=np.random.default_rng(seed))
    state = train_sgd(network, X, y, epochs=1000, learning_rate=0.1, batch_size=1, shuffle=False)
    emily, frank = network.feedforward(SEED_SHIFT.transform(np.array([[128, 63], [155, 68]])))[:, 0]
    assert emily > 0.5, f"seed {seed}: Emily scored {emily:.3f}"
    assert frank < 0.5, f"seed {seed}: Frank scored {frank:.3f}"
    assert state.epochs_done == 1000 and state.loss_history[-1] < state.loss_history[0]
