"""Facts that two layers must state alike: where one cannot import the other, a test keeps them
the same."""

from __future__ import annotations

import numpy as np
import pytest

from foundation import hyperparameters
from foundation.measurements import MEASUREMENTS, UNITS
from foundation.states import STATES, TERMINAL_STATES, JobState
from neural import losses


def test_the_hyperparameter_choices_and_the_network_name_the_same_losses() -> None:
    # The network core imports numpy only, so it keeps its own table of loss functions.
    assert list(hyperparameters.LOSSES) == list(losses.LOSSES)
    assert hyperparameters.DEFAULTS["loss"] in losses.LOSSES


def test_each_loss_of_the_table_is_the_mean_of_its_terms() -> None:
    y_true, y_pred = [1.0, 0.0, 1.0], [0.8, 0.3, 0.4]
    for name, loss in losses.LOSSES.items():
        terms = losses.loss_sum(name, np.asarray(y_true), np.asarray(y_pred))
        assert loss(y_true, y_pred) == pytest.approx(terms / len(y_true))


def test_an_unknown_loss_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="expected one of mse, log_loss"):
        losses.check_loss_name("hinge")


@pytest.mark.parametrize("measurement", MEASUREMENTS, ids=lambda m: m.name)
def test_the_metric_bounds_are_the_imperial_ones_converted(measurement) -> None:
    """Off by no more than rounding to the measurement's significant digits can make them."""
    rounding = 0.5 * 10 ** (1 - measurement.metric_digits)
    for imperial, metric in zip(
        measurement.imperial_bounds, measurement.metric_bounds, strict=True
    ):
        exact = imperial * measurement.metric_per_imperial
        assert metric != imperial
        assert abs(metric - exact) <= rounding * exact


def test_each_measurement_has_bounds_and_a_unit_in_each_system() -> None:
    for measurement in MEASUREMENTS:
        for units in UNITS:
            low, high = measurement.bounds(units)
            assert 0 < low < high
            assert measurement.unit(units)
        assert measurement.bounds("imperial") == measurement.imperial_bounds


def test_the_states_are_the_strings_stored_and_sent() -> None:
    assert [str(state) for state in STATES] == [state.value for state in JobState]
    assert {state for state in STATES if state.is_terminal} == TERMINAL_STATES
    assert JobState.RUNNING == "running" and not JobState.RUNNING.is_terminal
