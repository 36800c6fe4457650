"""The hyperparameter definitions are consistent: each default is a value its own definition
allows, and a drawn seed is one the API would accept."""

from __future__ import annotations

import pytest

from foundation import hyperparameters as hp


def allowed(definition: hp.Hyperparameter, value: object) -> bool:
    """Whether one value (an item, for a list) is within the definition's range or choices."""
    if definition.choices:
        return value in definition.choices
    if definition.kind is bool:
        return isinstance(value, bool)
    if not isinstance(value, definition.kind) or isinstance(value, bool):
        return False
    above = (
        value > definition.minimum if definition.exclusive_minimum else value >= definition.minimum
    )
    return above and value <= definition.maximum


@pytest.mark.parametrize("definition", hp.HYPERPARAMETERS, ids=lambda each: each.name)
def test_each_default_is_allowed_by_its_own_definition(definition: hp.Hyperparameter) -> None:
    default = definition.default
    if default is None:
        assert definition.nullable
    elif definition.length is not None:
        fewest, most = definition.length
        assert fewest <= len(default) <= most
        assert all(allowed(definition, item) for item in default)
    else:
        assert allowed(definition, default)
    assert definition.description().startswith(definition.help)


def test_drawn_seeds_are_seeds_the_api_accepts() -> None:
    seed = hp.BY_NAME["seed"]
    assert all(allowed(seed, hp.draw_seed()) for _ in range(1000))
