"""CSV and TSV uploads: a header row, then one person per line.

Column names are matched in any case and order (`weight`, `height`, `gender`); the shared
`weight-height.tsv` (header `Gender\tHeight\tWeight`, genders `Male`/`Female`) uploads as it is.
Errors name the line of the file (the header is line 1): `{"file": {"line 18": {"weight": [...]}}}`.
`read_table_blocks` reads a batch prediction's upload the same way, a block of rows at a time
from a stream, with the gender column optional.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from service.measurements import Columns, RowValidationError, validate_text_rows

CONTENT_TYPES = {"text/csv": ",", "text/tab-separated-values": "\t"}
COLUMNS = ("weight", "height", "gender")
#: The columns a table of people to predict needs (its gender column is optional).
MEASURED_COLUMNS = ("weight", "height")


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


def _header(names: list[str], required: tuple[str, ...]) -> dict[str, int]:
    """Column name -> index, for the known columns in any case and order (every one of
    `required` present)."""
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
    problems += [f"Missing column {name!r}." for name in required if name not in seen]
    if problems:
        expected = ", ".join(required)
        if required != COLUMNS:
            expected += " (and optionally gender)"
        raise TableError(f"the header row is not {expected}", {"line 1": problems})
    return seen


Block = tuple[dict[str, list[str]], list[int]]


def _blocks(
    reader: Iterator[list[str]], required: tuple[str, ...], rows: int | None
) -> Iterator[Block]:
    """The table's cells as text, `rows` rows at a time (all at once if None): ({column: cells},
    their line numbers); the last block may be short, and a table without rows is one empty
    block. Raises TableError for a bad header, a ragged or unreadable row, an empty file."""
    header: dict[str, int] | None = None
    cells: dict[str, list[str]] = {}
    lines: list[int] = []
    sent = False
    try:
        for record in reader:
            if not record or all(not cell.strip() for cell in record):
                continue  # blank lines (a trailing newline) carry nothing
            if header is None:
                header = _header(record, required)
                width = len(record)
                cells = {name: [] for name in header}
                continue
            if len(record) != width:
                line = reader.line_num
                reason = f"Expected {width} fields like the header, got {len(record)}."
                raise TableError(f"ragged row at line {line}", {f"line {line}": [reason]})
            for name, index in header.items():
                cells[name].append(record[index].strip())
            lines.append(reader.line_num)
            if rows is not None and len(lines) == rows:
                yield cells, lines
                sent = True
                cells, lines = {name: [] for name in header}, []
    except csv.Error as exc:
        line = reader.line_num
        raise TableError(f"unreadable row at line {line}", {f"line {line}": [str(exc)]}) from exc
    if header is None:
        raise TableError("the file is empty", {"line 1": ["Missing header row."]})
    if lines or not sent:
        yield cells, lines


def _columns(block: Block, units: str) -> Columns:
    """A block's cells checked and converted; TableError naming the lines of bad cells."""
    cells, lines = block
    try:
        return validate_text_rows(
            cells["weight"],
            cells["height"],
            cells.get("gender"),
            units=units,
            row_key=lambda row: f"line {lines[row]}",
        )
    except RowValidationError as exc:
        raise TableError("invalid rows in the file", exc.errors) from exc


def parse_table(data: bytes, content_type: str, units: str = "imperial") -> Columns:
    """Parse an upload of `content_type` (text/csv or text/tab-separated-values) into columns.

    Raises TableError (ragged rows, bad encoding, bad header, bad cells) naming the line.
    """
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=CONTENT_TYPES[content_type])
    (block,) = _blocks(reader, COLUMNS, None)
    return _columns(block, units)


def read_table_blocks(
    stream: BinaryIO, content_type: str, units: str, rows: int
) -> Iterator[Columns]:
    """Parse an upload read from `stream` a block of `rows` rows at a time, never holding more
    of it: the same rules as `parse_table`, except that the gender column is optional (the
    columns have no label without it). Raises TableError naming the line, from the block
    that has the first problem."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=CONTENT_TYPES[content_type])
    blocks = _blocks(reader, MEASURED_COLUMNS, rows)
    while True:
        try:
            block = next(blocks)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            line = reader.line_num + 1
            reason = f"Not valid UTF-8: byte 0x{exc.object[exc.start]:02x}."
            raise TableError(
                f"the file is not UTF-8 (line {line})", {f"line {line}": [reason]}
            ) from exc
        yield _columns(block, units)
