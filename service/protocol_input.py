"""People in a standard protocol's request, checked exactly like /predict's `instances`.

The protocols carry rows as objects (`{"weight": 128, "height": 63}`) or as `[weight, height]`
pairs; both become `/predict`'s row objects and go through `service.measurements`, so every
protocol accepts the same numbers and refuses the same mistakes, naming the row and the field.
Values are in pounds and inches.
"""

from __future__ import annotations

import numpy as np

from service.measurements import (
    RowErrors,
    RowValidationError,
    check_row_count,
    validate_json_columns,
    validate_json_rows,
)
from service.protocol_errors import ProtocolError

FEATURES = ("weight", "height")
#: Rows named in an error message; the rest are counted.
REPORTED_ROWS = 3


def describe_row_errors(errors: RowErrors | list[str]) -> str:
    """One line naming the first bad rows and fields, e.g. `row 2, weight: Must be ...`."""
    if isinstance(errors, list):
        return " ".join(errors)
    if any(isinstance(messages, list) for messages in errors.values()):  # field -> messages
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
    parts = [
        f"row {row}, {field}: {' '.join(messages)}"
        for row, fields in list(errors.items())[:REPORTED_ROWS]
        for field, messages in fields.items()
    ]
    if len(errors) > REPORTED_ROWS:
        parts.append(f"and {len(errors) - REPORTED_ROWS} more rows")
    return "; ".join(parts)


def pair_rows(items: list) -> list:
    """`[weight, height]` pairs as row objects; objects (and anything else) pass unchanged."""
    rows = []
    for index, item in enumerate(items):
        if isinstance(item, list):
            if len(item) != len(FEATURES):
                message = f"row {index}: expected [weight, height], got {len(item)} values"
                raise ProtocolError(400, message)
            item = dict(zip(FEATURES, item, strict=True))
        rows.append(item)
    return rows


def check_rows(count: int, max_rows: int) -> None:
    """ProtocolError(400) when a request holds more than `max_rows` rows, for a protocol that
    knows the count before it reads the rows (`service.measurements.check_row_count`)."""
    try:
        check_row_count(count, max_rows)
    except RowValidationError as exc:
        raise ProtocolError(400, describe_row_errors(exc.errors)) from None


def features(rows: object, max_rows: int | None) -> np.ndarray:
    """X, ndarray of shape (n, 2) in lb and in, from a list of row objects; ProtocolError(400).

    At most `max_rows` rows (None: the caller has counted them with `check_rows`)."""
    try:
        columns = validate_json_rows(rows, units="imperial", with_gender=False, max_rows=max_rows)
    except RowValidationError as exc:
        raise ProtocolError(400, describe_row_errors(exc.errors)) from exc
    return columns.features


def column_features(weight: list, height: list) -> np.ndarray:
    """X, ndarray of shape (n, 2) in lb and in, from a weight and a height column of the same
    length (no object a row); ProtocolError(400). The caller has counted the rows (`check_rows`)."""
    try:
        columns = validate_json_columns({"weight": weight, "height": height}, units="imperial")
    except RowValidationError as exc:
        raise ProtocolError(400, describe_row_errors(exc.errors)) from exc
    return columns.features
