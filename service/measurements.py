"""Columnar validation of weight/height (and gender) rows, and unit conversion at the edge.

Rows arrive as JSON objects or file lines; both are checked here column by column with numpy, not
row by row with marshmallow, so that a 10,000-row request costs about as much as parsing it. Every
error still names the row and the field: `{"17": {"weight": ["..."]}}`.

Physical bounds (`foundation.measurements`), checked in the units the values arrive in (before
conversion, so that the limits the OpenAPI document states are exactly the ones enforced), keep
typos and garbage out of training data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from foundation.measurements import MEASUREMENTS, UNITS

#: The accepted range of each measurement, per unit system, in that system's units (lb/in, kg/cm).
BOUNDS = {units: {m.name: m.bounds(units) for m in MEASUREMENTS} for units in UNITS}
UNIT_NAMES = {units: {m.name: m.unit(units) for m in MEASUREMENTS} for units in UNITS}
GENDER_LABELS = {"f": 1.0, "female": 1.0, "m": 0.0, "male": 0.0}
MAX_REPORTED_ROWS = 20

MISSING = "Missing data for required field."
UNKNOWN = "Unknown field."
NOT_A_NUMBER = "Not a valid number."
NOT_A_DECIMAL = "Not a valid number: plain decimals only (sign, digits, point, exponent)."
#: A number in a CSV/TSV cell: optional sign, digits with an optional point, optional exponent.
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
NOT_FINITE = "Special numeric values (nan or infinity) are not permitted."
BAD_GENDER = "Must be one of F, M, female, male (any case)."
NOT_A_PAIR = "Not a [weight, height] pair: expected a list of 2 numbers."
NOT_A_LIST = "Not a valid list."


def range_text(units: str, field: str) -> str:
    """`field`'s accepted range in `units` as the documents state it, e.g. `1-1500`."""
    low, high = BOUNDS[units][field]
    return f"{low:g}-{high:g}"


#: Field descriptions reused by the schemas, so the OpenAPI document states the bounds.
WEIGHT_DESCRIPTION = (
    f"Weight in pounds ({range_text('imperial', 'weight')}), or kilograms "
    f"({range_text('metric', 'weight')}) when units is metric. A JSON number; strings, booleans, "
    "NaN and Infinity are rejected."
)
HEIGHT_DESCRIPTION = (
    f"Height in inches ({range_text('imperial', 'height')}), or centimetres "
    f"({range_text('metric', 'height')}) when units is metric. A JSON number; strings, booleans, "
    "NaN and Infinity are rejected."
)
GENDER_DESCRIPTION = "F, M, female or male, in any case. F is the positive class (label 1)."
UNITS_DESCRIPTION = (
    f"imperial ({', '.join(UNIT_NAMES['imperial'].values())}; the default) or metric "
    f"({', '.join(UNIT_NAMES['metric'].values())}, converted on arrival)."
)

#: Row key -> field -> messages; or, for a table given as columns, field -> messages.
RowErrors = dict[str, dict[str, list[str]]] | dict[str, list[str]]


class RowValidationError(Exception):
    """Raised with `errors` = {row key: {field: [messages]}} (or a list for whole-table errors)."""

    def __init__(self, errors: RowErrors | list[str]):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class Columns:
    """Validated rows: `features` (n, 2), float64, columns [weight (lb), height (in)], the
    network's input as it is; label (1.0 = F) if asked."""

    features: np.ndarray
    label: np.ndarray | None = None

    @property
    def weight(self) -> np.ndarray:
        return self.features[:, 0]

    @property
    def height(self) -> np.ndarray:
        return self.features[:, 1]

    def __len__(self) -> int:
        return len(self.features)


class _Collector:
    """Gathers per-row errors under printable row keys, keeping the first MAX_REPORTED_ROWS rows."""

    def __init__(self, key: Callable[[int], str]):
        self.key = key
        self.errors: dict[int, dict[str, list[str]]] = {}
        self.bad: set[tuple[int, str]] = set()  # every (row, field) already reported or skipped

    def add(self, row: int, field: str, message: str) -> None:
        self.bad.add((row, field))
        if row not in self.errors and len(self.errors) >= MAX_REPORTED_ROWS:
            return
        self.errors.setdefault(row, {}).setdefault(field, []).append(message)

    def add_many(self, rows: Sequence[int] | np.ndarray, field: str, message: str) -> None:
        for row in rows[:MAX_REPORTED_ROWS]:
            self.add(int(row), field, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise RowValidationError(
                {self.key(row): self.errors[row] for row in sorted(self.errors)}
            )


def range_message(field: str, units: str) -> str:
    """The message for an out-of-range weight or height, in the caller's units."""
    low, high = BOUNDS[units][field]
    return f"Must be between {low:g} and {high:g} {UNIT_NAMES[units][field]}."


#: Column order of the measurements everywhere: weight, height.
MEASURED = tuple(m.name for m in MEASUREMENTS)
#: `BOUNDS` as arrays per unit system, one column each (weight, height): lowest, highest.
LOWEST = {units: np.array([BOUNDS[units][f][0] for f in MEASURED]) for units in UNITS}
HIGHEST = {units: np.array([BOUNDS[units][f][1] for f in MEASURED]) for units in UNITS}
#: The same, as lists, for one row's check in Python (`_plain_row`).
_BOUND_LISTS = {units: (LOWEST[units].tolist(), HIGHEST[units].tolist()) for units in UNITS}
_MEASURED_KEYS = frozenset(MEASURED)
#: Metric units per imperial unit, per column (kg per lb, cm per in).
METRIC_PER_IMPERIAL = np.array([m.metric_per_imperial for m in MEASUREMENTS])


def to_imperial(features: np.ndarray, units: str) -> np.ndarray:
    """Convert (n, 2) [weight, height] from kg/cm to lb/in when `units` is metric; imperial
    values pass through."""
    if units == "metric":
        with np.errstate(over="ignore"):  # a huge value (out of range, reported) becomes inf
            return features / METRIC_PER_IMPERIAL
    return features


def from_imperial(features: np.ndarray, units: str) -> np.ndarray:
    """Convert (n, 2) [weight, height] from lb/in to kg/cm when `units` is metric (the inverse
    of `to_imperial`); imperial values pass through."""
    if units == "metric":
        return features * METRIC_PER_IMPERIAL
    return features


def _clipped_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return 1e300 if value > 0 else -1e300


def _json_numbers(columns: list[list], errors: _Collector) -> np.ndarray:
    """The weight and height columns (JSON numbers: int or float, not bool or str) as one
    float array of shape (2, n); bad cells are reported and become NaN."""
    numbers = []
    for field, values in zip(MEASURED, columns, strict=True):
        if not set(map(type, values)) <= {int, float}:
            for row, value in enumerate(values):
                if type(value) not in (int, float) and (row, field) not in errors.bad:
                    errors.add(row, field, NOT_A_NUMBER)
            values = [v if type(v) in (int, float) else float("nan") for v in values]
        numbers.append(values)
    try:
        return np.array(numbers, dtype=np.float64)
    except OverflowError:  # an integer beyond float range: outside any physical bound anyway
        return np.array([[_clipped_float(v) for v in values] for values in numbers])


def plain_decimal(text: str) -> float:
    """A number written as text, if it is a plain decimal (`DECIMAL`); ValueError otherwise.

    The one rule for numbers that arrive as text (uploads, protocol strings): Python's float()
    would also read `1_50`, ` 1e3 `, `inf` and `nan`.
    """
    if DECIMAL.fullmatch(text) is None:
        raise ValueError(f"{NOT_A_DECIMAL} Got {text[:40]!r}.")
    return float(text)


def _text_numbers(values: list[str], field: str, errors: _Collector) -> np.ndarray:
    """Numbers written as text (CSV/TSV cells) as a float array; a cell that is not a plain
    decimal (`plain_decimal`) is reported and becomes NaN."""
    if all(DECIMAL.fullmatch(value) for value in values):
        return np.array(values, dtype=np.float64)  # the usual case: one conversion
    column = np.full(len(values), np.nan)
    for row, value in enumerate(values):
        try:
            column[row] = plain_decimal(value)
        except ValueError as exc:
            errors.add(row, field, str(exc))
    return column


def _check_measurements(features: np.ndarray, units: str, errors: _Collector) -> np.ndarray:
    """Finite and in range in the units they arrive in (`BOUNDS`), both columns of (n, 2)
    `features` at once; returns them converted to lb and in. The usual case, every value in range,
    costs a few array operations whatever the number of rows."""
    with np.errstate(invalid="ignore"):  # NaN compares false: reported below
        in_range = (features >= LOWEST[units]) & (features <= HIGHEST[units])
    if not in_range.all():
        finite = np.isfinite(features)
        for column, field in enumerate(MEASURED):
            for row in np.flatnonzero(~finite[:, column]):
                if (int(row), field) not in errors.bad:
                    errors.add(int(row), field, NOT_FINITE)
            out_of_range = np.flatnonzero(finite[:, column] & ~in_range[:, column])
            errors.add_many(out_of_range, field, range_message(field, units))
    return to_imperial(features, units)


def _labels(values: list, errors: _Collector) -> np.ndarray:
    """Gender strings as labels (1.0 = F, 0.0 = M); anything else is reported."""
    labels = [GENDER_LABELS.get(v.strip().lower()) if type(v) is str else None for v in values]
    if None in labels:
        for row, label in enumerate(labels):
            if label is None and (row, "gender") not in errors.bad:
                errors.add(row, "gender", BAD_GENDER)
        labels = [0.0 if label is None else label for label in labels]
    return np.array(labels, dtype=np.float64)


def check_row_count(count: int, max_rows: int | None) -> None:
    """The row cap of a prediction request (NNSERVICE_MAX_PREDICT_ROWS; None: no cap), the one
    check of it for /predict and every protocol: RowValidationError when `count` is over it."""
    if max_rows is not None and count > max_rows:
        raise RowValidationError([f"At most {max_rows} rows per request; got {count}."])


def validate_json_rows(
    rows: object, *, units: str, with_gender: bool, max_rows: int | None = None
) -> Columns:
    """Validate a JSON list of row objects; raises RowValidationError naming rows and fields.

    Each row must be an object with exactly `weight`, `height` (and `gender` if `with_gender`);
    a list longer than `max_rows` is refused before any row is read (`check_row_count`).
    """
    if not isinstance(rows, list):
        raise RowValidationError(["Not a valid list."])
    check_row_count(len(rows), max_rows)
    if len(rows) == 1 and not with_gender:
        one = _plain_row(rows[0], units)
        if one is not None:
            return Columns(one)
    fields = ("weight", "height", "gender") if with_gender else ("weight", "height")
    expected = set(fields)
    errors = _Collector(str)
    for row, item in enumerate(rows):
        if type(item) is not dict:
            errors.add(row, "_schema", "Invalid input type.")
            errors.bad.update((row, f) for f in fields)
        elif item.keys() != expected:
            for field in expected - item.keys():
                errors.add(row, field, MISSING)
            for field in item.keys() - expected:
                errors.add(row, str(field), UNKNOWN)
    if errors.bad:  # some cells are missing: fill them with None, they are already reported
        columns = {f: [r.get(f) if type(r) is dict else None for r in rows] for f in fields}
    else:
        columns = {f: [r[f] for r in rows] for f in fields}
    features = _json_numbers([columns["weight"], columns["height"]], errors).T
    features = _check_measurements(features, units, errors)
    label = _labels(columns["gender"], errors) if with_gender else None
    errors.raise_if_any()
    return Columns(features, label)


def _plain_row(item: object, units: str) -> np.ndarray | None:
    """One person (the most frequent request) as (1, 2) features in lb and in, if the row is
    exactly {weight, height} with JSON numbers within `BOUNDS`; None for anything else, which the
    columns then check and report. The same rules as the columns, in a few Python comparisons
    instead of a dozen numpy calls (NaN compares false, so it is left to them too)."""
    if type(item) is not dict or item.keys() != _MEASURED_KEYS:
        return None
    values = [item[field] for field in MEASURED]
    for value, low, high in zip(values, *_BOUND_LISTS[units], strict=True):
        if type(value) not in (int, float) or not low <= value <= high:
            return None
    return to_imperial(np.array([values], dtype=np.float64), units)


def validate_json_pairs(rows: object, *, units: str, max_rows: int | None = None) -> Columns:
    """Validate a JSON list of `[weight, height]` pairs, the compact form of rows (no object a
    row); raises RowValidationError naming rows and fields, as `validate_json_rows` does."""
    if not isinstance(rows, list):
        raise RowValidationError([NOT_A_LIST])
    check_row_count(len(rows), max_rows)
    errors = _Collector(str)
    if not (set(map(type, rows)) <= {list} and set(map(len, rows)) <= {2}):  # no loop in Python
        for row, item in enumerate(rows):
            if type(item) is not list or len(item) != 2:
                errors.add(row, "_schema", NOT_A_PAIR)
                errors.bad.update((row, field) for field in MEASURED)
        rows = [item if type(item) is list and len(item) == 2 else (None, None) for item in rows]
    weight, height = zip(*rows, strict=True) if rows else ((), ())
    return _checked_columns([weight, height], units, errors)


def validate_json_columns(columns: object, *, units: str, max_rows: int | None = None) -> Columns:
    """Validate `{"weight": [...], "height": [...]}`, rows given as columns of JSON numbers of
    the same length (no other key); errors name the field, or the row and the field."""
    if type(columns) is not dict:
        raise RowValidationError(
            ['Not a valid object: expected {"weight": [...], "height": [...]}.']
        )
    fields: dict[str, list[str]] = {field: [MISSING] for field in MEASURED if field not in columns}
    fields.update({str(key): [UNKNOWN] for key in columns if key not in MEASURED})
    fields.update(
        {field: [NOT_A_LIST] for field in MEASURED if type(columns.get(field, [])) is not list}
    )
    if fields:
        raise RowValidationError(fields)
    weight, height = columns["weight"], columns["height"]
    if len(weight) != len(height):
        message = f"Must have as many values as weight ({len(weight)}); got {len(height)}."
        raise RowValidationError({"height": [message]})
    check_row_count(len(weight), max_rows)
    return _checked_columns([weight, height], units, _Collector(str))


def _checked_columns(columns: list, units: str, errors: _Collector) -> Columns:
    """The weight and height columns (JSON values) checked as numbers in range, in lb and in."""
    features = _check_measurements(_json_numbers(columns, errors).T, units, errors)
    errors.raise_if_any()
    return Columns(features)


def validate_text_rows(
    weight: list[str],
    height: list[str],
    gender: list[str] | None,
    *,
    units: str,
    row_key: Callable[[int], str],
) -> Columns:
    """Validate the columns of a CSV/TSV table (cells as text); errors are keyed by `row_key`.
    Without a `gender` column the columns have no label."""
    errors = _Collector(row_key)
    features = np.column_stack(
        [_text_numbers(weight, "weight", errors), _text_numbers(height, "height", errors)]
    ).reshape(-1, 2)
    features = _check_measurements(features, units, errors)
    label = None if gender is None else _labels(gender, errors)
    errors.raise_if_any()
    return Columns(features, label)


def check_both_classes(label: np.ndarray) -> str | None:
    """A reason the labels cannot train a classifier (no rows, one class only), or None."""
    if label.size == 0:
        return "The dataset has no rows."
    females = int(np.count_nonzero(label == 1.0))
    if females == 0 or females == label.size:
        only = "F" if females else "M"
        return f"The dataset needs both F and M rows; all {label.size} rows are {only}."
    return None
