"""The MLflow scoring protocol's request bodies (as `mlflow models serve` reads them), as rows.

JSON bodies hold exactly one of four keys (`params` is accepted and ignored, like MLflow does
for a model without parameters):

- `dataframe_split`: `{"columns": ["weight", "height"], "data": [[128, 63], ...]}` (an `index`
  is ignored);
- `dataframe_records`: `[{"weight": 128, "height": 63}, ...]`;
- `instances`: row objects, or `[weight, height]` pairs;
- `inputs`: the same, or columns `{"weight": [...], "height": [...]}`.

`text/csv` bodies have a header row naming the weight and height columns (a leading unnamed
column, as `pandas.DataFrame.to_csv()` writes the index, is ignored).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from service.protocol_errors import ProtocolError
from service.protocol_input import FEATURES, pair_rows

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
REQUIRED_FORMAT = (
    "The input must be a JSON object with exactly one of the fields dataframe_split, "
    "dataframe_records, instances or inputs"
)


def _bad(message: str) -> ProtocolError:
    return ProtocolError(400, message)


def _split_rows(frame: Any) -> list:
    if not isinstance(frame, dict) or not isinstance(frame.get("columns"), list):
        raise _bad('dataframe_split must be an object with "columns" and "data"')
    columns, data = frame["columns"], frame.get("data")
    if not isinstance(frame.get("index", []), list):
        raise _bad('dataframe_split "index" must be a list')
    if sorted(map(str, columns)) != sorted(FEATURES) or len(set(columns)) != len(columns):
        raise _bad(f"dataframe_split columns must be weight and height, got {columns!r:.200}")
    if not isinstance(data, list):
        raise _bad('dataframe_split "data" must be a list of rows')
    rows = []
    for index, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise _bad(f"dataframe_split row {index} must be a list of {len(columns)} values")
        rows.append(dict(zip(columns, row, strict=True)))
    return rows


def _column_rows(columns: dict) -> list:
    """`{"weight": [...], "height": [...]}` (TF serving's columnar "inputs") as row objects."""
    if sorted(columns) != sorted(FEATURES):
        raise _bad(f"inputs columns must be weight and height, got {sorted(columns)!r:.200}")
    weight, height = columns["weight"], columns["height"]
    if not isinstance(weight, list) or not isinstance(height, list) or len(weight) != len(height):
        raise _bad("inputs weight and height must be lists of the same length")
    return [{"weight": w, "height": h} for w, h in zip(weight, height, strict=True)]


def rows_from_json(body: Any) -> list:
    """The row objects of a JSON scoring request (unchecked values); ProtocolError(400)."""
    if not isinstance(body, dict):
        raise _bad(f"{REQUIRED_FORMAT}. Received {type(body).__name__}.")
    given = [key for key in FORMATS if key in body]
    if len(given) != 1:
        raise _bad(f"{REQUIRED_FORMAT}. Received the fields {sorted(body)!r:.200}.")
    if not isinstance(body.get("params", {}), dict):
        raise _bad('"params" must be an object')
    value = body[given[0]]
    if given[0] == "dataframe_split":
        return _split_rows(value)
    if given[0] == "inputs" and isinstance(value, dict):
        return _column_rows(value)
    if not isinstance(value, list):
        raise _bad(f"{given[0]} must be a list of rows")
    return pair_rows(value)


def rows_from_csv(text: str) -> list:
    """The row objects of a CSV body with a header row (numbers parsed where they parse)."""
    try:
        table = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as exc:
        raise _bad(f"the body is not CSV: {exc}") from None
    if not table:
        raise _bad("the CSV body is empty: expected a header row weight,height and data rows")
    header = [name.strip().lower() for name in table[0]]
    skip_index = header[:1] == [""]
    names = header[1:] if skip_index else header
    if sorted(names) != sorted(FEATURES):
        raise _bad(f"the CSV header must name the columns weight and height, got {table[0]!r:.200}")
    rows = []
    for index, cells in enumerate(table[1:]):
        values = cells[1:] if skip_index else cells
        if len(values) != len(names):
            raise _bad(f"CSV row {index} has {len(values)} values, expected {len(names)}")
        rows.append({name: _number(cell) for name, cell in zip(names, values, strict=True)})
    return rows


def _number(cell: str) -> float | str:
    """The cell as a float, or the text itself (refused later as not a number)."""
    try:
        return float(cell)
    except ValueError:
        return cell
