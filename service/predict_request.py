"""Loading a /predict body: a fast path for one well-formed person, the schema for the rest.

A single-row request is most of the traffic, and marshmallow costs more than the network does
for it. The fast path accepts only bodies the schema would accept too (exact keys, JSON numbers,
finite, in range, a valid model id and units); for anything else it steps aside, and the schema
loads the body and names every error, so errors have one source.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from model_store.ids import ID_PATTERN
from service.measurements import UNITS, RowValidationError, validate_single

REQUIRED = frozenset({"weight", "height"})
ALLOWED = REQUIRED | {"model_id", "units"}


def _number(value: Any) -> float | None:
    if type(value) not in (int, float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


class Person(NamedTuple):
    """One valid person of a single-row body: weight in lb, height in in, the model asked for."""

    weight: float
    height: float
    model_id: str | None


def fast_single(body: Any) -> Person | None:
    """The person of a valid one-person body, or None to use the schema."""
    if type(body) is not dict or not REQUIRED <= body.keys() <= ALLOWED:
        return None
    weight, height = _number(body["weight"]), _number(body["height"])
    model_id = body.get("model_id")
    units = body.get("units", "imperial")
    if weight is None or height is None or units not in UNITS:
        return None
    if model_id is not None and (type(model_id) is not str or not ID_PATTERN.fullmatch(model_id)):
        return None
    try:
        weight, height = validate_single(weight, height, units)
    except RowValidationError:
        return None
    return Person(weight, height, model_id)
