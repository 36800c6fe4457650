"""The MLflow scoring protocol's request bodies (as `mlflow models serve` reads them), as rows.

JSON bodies hold exactly one of four keys (`params` is accepted and ignored, like MLflow does
for a model without parameters):

- `dataframe_split`: `{"columns": ["weight", "height"], "data": [[128, 63], ...]}` (an `index`
  is ignored);
- `dataframe_records`: `[{"weight": 128, "height": 63}, ...]`;
- `instances`: row objects, or `[weight, height]` pairs;
- `inputs`: the same, or columns `{"weight": [...], "height": [...]}`.

`text/csv` bodies have a header row naming the weight and height columns (a leading unnamed
column, as `pandas.DataFrame.to_csv()` writes the index, is ignored); cells are stripped of
spaces, as in dataset uploads.

Columns are then enforced as MLflow's scoring server enforces a model signature of `weight:
double, height: double` (`mlflow.models.utils._enforce_schema`, observed on `mlflow models
serve` 3.17): other columns are ignored, numbers sent as strings (and CSV cells) are converted,
a missing column is `INVALID_PARAMETER_VALUE` and a value that does not convert is
`BAD_REQUEST`, naming the row. Text converts by the rule of dataset uploads
(`service.measurements.plain_decimal`: no `1_50`, `inf` or `nan`, which float() would read).
Where nnservice is stricter on purpose (that, nulls, booleans, values outside the physical
bounds, which `service.protocol_input` refuses naming the row), docs/protocols.md says so.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from service.measurements import plain_decimal
from service.protocol_errors import ProtocolError
from service.protocol_input import FEATURES, pair_rows

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
#: MLflow's error codes: a malformed request, and a request that does not fit the signature.
BAD_REQUEST = "BAD_REQUEST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
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
    if not all(isinstance(name, str) for name in columns) or len(set(columns)) != len(columns):
        raise _bad(f"dataframe_split columns must be distinct names, got {columns!r:.200}")
    _require_features(columns)  # as MLflow: a missing column is an error even without rows
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
    _require_features(columns)
    weight, height = columns["weight"], columns["height"]
    if not isinstance(weight, list) or not isinstance(height, list) or len(weight) != len(height):
        raise _bad("inputs weight and height must be lists of the same length")
    return [{"weight": w, "height": h} for w, h in zip(weight, height, strict=True)]


def _require_features(names: Any) -> None:
    """MLflow's INVALID_PARAMETER_VALUE for columns the signature needs and `names` lacks."""
    missing = [name for name in FEATURES if name not in names]
    if missing:
        message = f"Model is missing inputs {missing}. The model's inputs are weight and height"
        raise ProtocolError(400, message, INVALID_PARAMETER_VALUE)


def _double(name: str, index: int, value: Any) -> Any:
    """A string converted to a number for a double column, if it is a plain decimal (the rule of
    uploads, `plain_decimal`); other values unchanged (checked later with /predict's rules)."""
    if not isinstance(value, str):
        return value
    try:
        return plain_decimal(value)
    except ValueError as exc:
        message = f"Failed to convert column {name} to type 'float64': row {index}, {name}: {exc}"
        raise ProtocolError(400, message, BAD_REQUEST) from None


def enforce_signature(rows: list) -> list:
    """The rows' weight and height (other columns dropped, strings converted); row objects only:
    anything else passes unchanged, to be refused naming the row."""
    enforced = []
    for index, row in enumerate(rows):
        if isinstance(row, dict):
            _require_features(row)
            row = {name: _double(name, index, row[name]) for name in FEATURES}
        enforced.append(row)
    return enforced


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
        return enforce_signature(_split_rows(value))
    if given[0] == "inputs" and isinstance(value, dict):
        return enforce_signature(_column_rows(value))
    if given[0] == "dataframe_records" and value == []:
        _require_features(())  # as MLflow: no records, a frame without columns
    if not isinstance(value, list):
        raise _bad(f"{given[0]} must be a list of rows")
    return enforce_signature(pair_rows(value))


def rows_from_csv(text: str) -> list:
    """The row objects of a CSV body with a header row (other columns ignored)."""
    try:
        table = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as exc:
        raise _bad(f"the body is not CSV: {exc}") from None
    if not table:
        raise _bad("the CSV body is empty: expected a header row weight,height and data rows")
    header = [name.strip().lower() for name in table[0]]
    skip_index = header[:1] == [""]
    names = header[1:] if skip_index else header
    _require_features(names)
    rows = []
    for index, cells in enumerate(table[1:]):
        values = cells[1:] if skip_index else cells
        if len(values) != len(names):
            raise _bad(f"CSV row {index} has {len(values)} values, expected {len(names)}")
        rows.append(dict(zip(names, (value.strip() for value in values), strict=True)))
    return enforce_signature(rows)
