"""Acceptance 5: stopping, writing the TrainingState to JSON text and continuing is bit-exact."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neural import Network, TrainingState, train_sgd

SETTINGS = dict(learning_rate=0.1, batch_size=1, shuffle=True)


def same_bits(a: Network, b: Network) -> bool:
    return all(
        np.array_equal(x, y)
        for x, y in zip(a.weights + a.biases, b.weights + b.biases, strict=True)
    )


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_400_then_json_then_600_equals_1000_in_one_call(
    backend: str, batch_size: int, four_people
) -> None:
    X, y = four_people
    settings = {**SETTINGS, "batch_size": batch_size, "backend": backend}
    whole = Network(rng=np.random.default_rng(42))
    parted = whole.copy()
    final = train_sgd(whole, X, y, epochs=1000, rng=np.random.default_rng(9), **settings)

    first = train_sgd(parted, X, y, epochs=400, rng=np.random.default_rng(9), **settings)
    text = json.dumps(first.to_dict())
    del parted  # a fresh process would only have the JSON text and the network's shape
    restarted = Network(rng=np.random.default_rng(12345))
    resumed = train_sgd(
        restarted, X, y, epochs=1000, state=TrainingState.from_dict(json.loads(text)), **settings
    )

    assert same_bits(whole, restarted)
    assert resumed.loss_history == final.loss_history and len(final.loss_history) == 1000
    assert resumed.rng_state == final.rng_state and resumed.epochs_done == 1000


def test_resume_on_real_rows_with_a_dict_state(thousand_people) -> None:
    X, y = thousand_people
    whole = Network((2, 4, 1), rng=np.random.default_rng(1))
    parted = whole.copy()
    train_sgd(whole, X, y, epochs=30, rng=np.random.default_rng(2), loss="log_loss", **SETTINGS)
    half = train_sgd(
        parted, X, y, epochs=13, rng=np.random.default_rng(2), loss="log_loss", **SETTINGS
    )
    state = json.loads(json.dumps({**half.to_dict(), "job_id": "extra keys are ignored"}))
    train_sgd(parted, X, y, epochs=30, state=state, loss="log_loss", **SETTINGS)
    assert same_bits(whole, parted)


def test_on_epoch_sees_every_epoch_and_can_stop_for_a_checkpoint(four_people) -> None:
    X, y = four_people
    whole = Network(rng=np.random.default_rng(5))
    interrupted = whole.copy()
    train_sgd(whole, X, y, epochs=50, rng=np.random.default_rng(6), **SETTINGS)

    seen: list[tuple[int, float]] = []
    rng = np.random.default_rng(6)
    checkpoints: list[str] = []

    def on_epoch(epoch: int, loss: float) -> bool:
        seen.append((epoch, loss))
        if epoch == 20:  # what a worker does: checkpoint from inside the callback, then stop
            snapshot = TrainingState.capture(interrupted, rng, epoch, [v for _, v in seen])
            checkpoints.append(json.dumps(snapshot.to_dict()))
        return epoch == 20

    stopped = train_sgd(interrupted, X, y, epochs=50, rng=rng, on_epoch=on_epoch, **SETTINGS)
    assert [epoch for epoch, _ in seen] == list(range(1, 21))
    assert [loss for _, loss in seen] == stopped.loss_history
    assert stopped.epochs_done == 20
    assert json.loads(checkpoints[0]) == json.loads(json.dumps(stopped.to_dict()))

    later: list[int] = []
    own_rng = np.random.default_rng(999)
    train_sgd(
        interrupted, X, y, epochs=50, rng=own_rng, on_epoch=lambda e, _: later.append(e),
        state=json.loads(checkpoints[0]), **SETTINGS,
    )  # fmt: skip
    assert later == list(range(21, 51))
    assert same_bits(whole, interrupted)


def test_state_round_trips_through_json_exactly(four_people) -> None:
    X, y = four_people
    state = train_sgd(
        Network((2, 3, 2), rng=np.random.default_rng(0)), X, np.column_stack([y, 1 - y]),
        epochs=7, rng=np.random.default_rng(1), **SETTINGS,
    )  # fmt: skip
    data = state.to_dict()
    assert set(data) >= {"epochs_done", "loss_history", "weights", "biases", "rng_state"}
    again = TrainingState.from_dict(json.loads(json.dumps(data)))
    assert again.to_dict() == data
    assert all(np.array_equal(a, b) for a, b in zip(again.weights, state.weights, strict=True))
    assert again.make_rng().random() == state.make_rng().random()


def test_a_finished_state_trains_no_further_and_a_longer_one_is_refused(four_people) -> None:
    X, y = four_people
    network = Network(rng=np.random.default_rng(0))
    state = train_sgd(network, X, y, epochs=5, rng=np.random.default_rng(1), **SETTINGS)
    before = network.copy()
    calls: list[int] = []
    same = train_sgd(
        network, X, y, epochs=5, state=state, on_epoch=lambda e, _: calls.append(e), **SETTINGS
    )
    assert calls == [] and same.to_dict() == state.to_dict() and same_bits(before, network)
    with pytest.raises(ValueError, match="epochs done"):
        train_sgd(network, X, y, epochs=4, state=state, learning_rate=0.1)
    with pytest.raises(ValueError, match="layer sizes"):
        train_sgd(Network((2, 3, 1)), X, y, epochs=9, state=state, learning_rate=0.1)
