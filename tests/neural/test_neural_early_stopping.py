"""Early stopping: it stops on a plateau, keeps the best epoch's weights (the very weights of a
run of exactly that many epochs), resumes to the bit from JSON, and is off unless asked for."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neural import EarlyStopping, Network, TrainingState, train_sgd
from neural.losses import mse_loss

SETTINGS = dict(learning_rate=0.5, batch_size=1, shuffle=True)
EPOCHS = 300
PATIENCE = 5


def same_bits(a: Network, b: Network) -> bool:
    return all(
        np.array_equal(x, y)
        for x, y in zip(a.weights + a.biases, b.weights + b.biases, strict=True)
    )


@pytest.fixture(scope="module")
def split(thousand_people) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """800 training rows and 200 validation rows of the 1,000 people."""
    X, y = thousand_people
    return X[:800], y[:800], X[800:], y[800:]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_stops_on_a_plateau_and_keeps_the_best_epochs_weights(split, backend: str) -> None:
    X, y, X_val, y_val = split
    start = Network((2, 2, 1), rng=np.random.default_rng(3))
    network = start.copy()
    rule = EarlyStopping(PATIENCE)
    validation_losses: list[float] = []

    def watch(epoch: int, loss: float) -> None:  # the network as early stopping saw it
        validation_losses.append(mse_loss(y_val, network.feedforward(X_val).reshape(-1)))

    state = train_sgd(
        network, X, y, epochs=EPOCHS, rng=np.random.default_rng(4), on_epoch=watch,
        early_stopping=rule, validation=(X_val, y_val), backend=backend, **SETTINGS,
    )  # fmt: skip

    assert rule.stopped and rule.stopped_epoch < EPOCHS, "a plateau before the budget"
    assert state.epochs_done == rule.stopped_epoch == len(validation_losses)
    assert rule.best_epoch == rule.stopped_epoch - PATIENCE
    best = int(np.argmin(validation_losses)) + 1
    assert rule.best_epoch == best
    assert rule.best_loss == pytest.approx(validation_losses[best - 1], rel=1e-12)
    # The kept weights are those of a run of exactly best_epoch epochs from the same start.
    exactly = start.copy()
    train_sgd(
        exactly, X, y, epochs=rule.best_epoch, rng=np.random.default_rng(4), backend=backend,
        **SETTINGS,
    )  # fmt: skip
    assert same_bits(network, exactly)
    assert same_bits(Network(state.layer_sizes, state.weights, state.biases), exactly)


def test_an_improvement_must_beat_the_best_by_min_delta() -> None:
    X = np.array([[0.5, -0.5], [-0.5, 0.5], [0.4, -0.6], [-0.6, 0.4]])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    network = Network(rng=np.random.default_rng(0))
    start = network.copy()
    rule = EarlyStopping(3, min_delta=1.0)  # no loss can fall by a whole 1.0 below its best

    state = train_sgd(
        network, X, y, epochs=100, rng=np.random.default_rng(1),
        early_stopping=rule, validation=(X, y), **SETTINGS,
    )  # fmt: skip

    assert (rule.best_epoch, rule.stopped_epoch, state.epochs_done) == (1, 4, 4)
    train_sgd(start, X, y, epochs=1, rng=np.random.default_rng(1), **SETTINGS)
    assert same_bits(network, start)


def test_runs_every_epoch_without_a_plateau_and_still_keeps_the_best(split) -> None:
    X, y, X_val, y_val = split
    network = Network((2, 2, 1), rng=np.random.default_rng(3))
    rule = EarlyStopping(10_000)

    state = train_sgd(
        network, X, y, epochs=30, rng=np.random.default_rng(4),
        early_stopping=rule, validation=(X_val, y_val), **SETTINGS,
    )  # fmt: skip

    assert state.epochs_done == 30 and not rule.stopped
    assert 1 <= rule.best_epoch <= 30
    assert rule.best_loss == pytest.approx(
        mse_loss(y_val, network.feedforward(X_val).reshape(-1)), rel=1e-12
    )


@pytest.mark.parametrize("interrupt_at", ["before_best", "after_best", "at_stop"])
def test_a_run_stopped_for_a_checkpoint_resumes_to_the_same_bits(split, interrupt_at) -> None:
    """The caller stops before the best epoch, between it and the stop, or after the very epoch
    early stopping ends training; keeps the state and early stopping as JSON text; and a fresh
    network continues from them."""
    X, y, X_val, y_val = split
    options = dict(validation=(X_val, y_val), **SETTINGS)
    whole = Network((2, 2, 1), rng=np.random.default_rng(3))
    parted = whole.copy()
    uninterrupted = EarlyStopping(PATIENCE)
    final = train_sgd(
        whole, X, y, epochs=EPOCHS, rng=np.random.default_rng(4), early_stopping=uninterrupted,
        **options,
    )  # fmt: skip
    best, stopped = uninterrupted.best_epoch, uninterrupted.stopped_epoch
    stop_at = {"before_best": best - 2, "after_best": best + 2, "at_stop": stopped}[interrupt_at]
    assert best - 2 > 0 and best + 2 < stopped < EPOCHS

    rng, rule, saved = np.random.default_rng(4), EarlyStopping(PATIENCE), []

    def checkpoint(epoch: int, loss: float) -> bool:
        if epoch == stop_at:
            state = TrainingState.capture(parted, rng, epoch, final.loss_history[:epoch])
            saved.append(json.dumps({"state": state.to_dict(), "rule": rule.to_dict()}))
        return epoch == stop_at

    train_sgd(
        parted, X, y, epochs=EPOCHS, rng=rng, on_epoch=checkpoint, early_stopping=rule, **options
    )
    data = json.loads(saved[0])
    restarted = Network((2, 2, 1), rng=np.random.default_rng(99))
    resumed_rule = EarlyStopping.from_dict(data["rule"])
    resumed = train_sgd(
        restarted, X, y, epochs=EPOCHS, state=data["state"], early_stopping=resumed_rule,
        **options,
    )  # fmt: skip

    assert same_bits(whole, restarted)
    assert resumed.loss_history == final.loss_history
    assert resumed_rule.to_dict() == uninterrupted.to_dict()


def test_off_unless_asked_for_and_validation_rows_alone_change_nothing(four_people) -> None:
    X, y = four_people
    plain, with_rows = Network(rng=np.random.default_rng(7)), Network(rng=np.random.default_rng(7))
    a = train_sgd(plain, X, y, epochs=50, rng=np.random.default_rng(8), **SETTINGS)
    b = train_sgd(
        with_rows, X, y, epochs=50, rng=np.random.default_rng(8), validation=(X, y), **SETTINGS
    )
    assert same_bits(plain, with_rows) and a.to_dict() == b.to_dict()


def test_refuses_what_it_cannot_use(four_people) -> None:
    X, y = four_people
    with pytest.raises(ValueError, match="needs validation rows"):
        train_sgd(Network(), X, y, epochs=3, early_stopping=EarlyStopping(2), learning_rate=0.1)
    with pytest.raises(ValueError, match="needs validation rows"):
        train_sgd(
            Network(), X, y, epochs=3, early_stopping=EarlyStopping(2), validation=(X[:0], y[:0]),
            learning_rate=0.1,
        )  # fmt: skip
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(0)
    with pytest.raises(ValueError, match="min_delta"):
        EarlyStopping(1, min_delta=-0.1)
    with pytest.raises(ValueError, match="lacks 'best_epoch'"):
        EarlyStopping.from_dict(
            {"patience": 1, "min_delta": 0.0, "best_loss": None, "stopped_epoch": None}
        )
