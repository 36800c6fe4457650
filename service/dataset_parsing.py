"""CSV and TSV uploads: a header row, then one person per line.

Column names are matched in any case and order (`weight`, `height`, `gender`); the shared
`weight-height.tsv` (header `Gender\tHeight\tWeight`, genders `Male`/`Female`) uploads as it is.
Errors name the line of the file (the header is line 1): `{"file": {"line 18": {"weight": [...]}}}`.
"""

from __future__ import annotations

import csv
import io

from service.measurements import Columns, RowValidationError, validate_text_rows

CONTENT_TYPES = {"text/csv": ",", "text/tab-separated-values": "\t"}
COLUMNS = ("weight", "height", "gender")


class TableError(Exception):
    """An upload that cannot become a dataset; `errors` is the body's `errors` object."""

    def __init__(self, message: str, errors: dict):
        super().__init__(message)
        self.errors = errors


def _decode(data: bytes) -> str:
    """UTF-8 text (a leading byte-order mark is dropped); the error names the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        reason = f"Not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}."
        raise TableError(
            f"the file is not UTF-8 (line {line})", {f"line {line}": [reason]}
        ) from exc


def _header(names: list[str]) -> dict[str, int]:
    """Column name -> index, for exactly the three known columns in any case and order."""
    seen: dict[str, int] = {}
    problems: list[str] = []
    for index, raw in enumerate(names):
        name = raw.strip().lower()
        if name not in COLUMNS:
            problems.append(f"Unknown column {raw.strip()[:40]!r}.")
        elif name in seen:
            problems.append(f"Duplicate column {name!r}.")
        else:
            seen[name] = index
    problems += [f"Missing column {name!r}." for name in COLUMNS if name not in seen]
    if problems:
        raise TableError("the header row is not weight, height, gender", {"line 1": problems})
    return seen


def parse_table(data: bytes, content_type: str, units: str = "imperial") -> Columns:
    """Parse an upload of `content_type` (text/csv or text/tab-separated-values) into columns.

    Raises TableError (ragged rows, bad encoding, bad header, bad cells) naming the line.
    """
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=CONTENT_TYPES[content_type])
    header: dict[str, int] | None = None
    cells: dict[str, list[str]] = {name: [] for name in COLUMNS}
    lines: list[int] = []
    try:
        for record in reader:
            if not record or all(not cell.strip() for cell in record):
                continue  # blank lines (a trailing newline) carry nothing
            if header is None:
                header = _header(record)
                width = len(record)
                continue
            if len(record) != width:
                line = reader.line_num
                reason = f"Expected {width} fields like the header, got {len(record)}."
                raise TableError(f"ragged row at line {line}", {f"line {line}": [reason]})
            for name, index in header.items():
                cells[name].append(record[index].strip())
            lines.append(reader.line_num)
    except csv.Error as exc:
        line = reader.line_num
        raise TableError(f"unreadable row at line {line}", {f"line {line}": [str(exc)]}) from exc
    if header is None:
        raise TableError("the file is empty", {"line 1": ["Missing header row."]})
    try:
        return validate_text_rows(
            cells["weight"],
            cells["height"],
            cells["gender"],
            units=units,
            row_key=lambda row: f"line {lines[row]}",
        )
    except RowValidationError as exc:
        raise TableError("invalid rows in the file", exc.errors) from exc
