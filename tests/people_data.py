"""The people the tests train on: `nnservice example-data`'s realistic rows, always at hand, and
the real 10,000-person data set, where it is found.

The real set is not part of the repository: its path is `NNSERVICE_REAL_DATA`, by default
`../shared/data/weight-height.tsv` beside the repository (where CI has it). A test that checks it
skips, naming the path and the variable, when it is absent.
"""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path

import pytest

from nnservice.example_data import write_people

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The environment variable naming the real data set's path.
REAL_DATA_VARIABLE = "NNSERVICE_REAL_DATA"
DEFAULT_REAL_DATA = REPO_ROOT.parent / "shared/data/weight-height.tsv"


def real_data_path() -> Path:
    """Where the real 10,000-person data set should be (it may be absent)."""
    return Path(os.environ.get(REAL_DATA_VARIABLE) or DEFAULT_REAL_DATA)


def real_data_tsv() -> bytes:
    """The real data set's bytes; skips the calling test, saying why, when it is absent."""
    path = real_data_path()
    if not path.is_file():
        pytest.skip(
            f"the real 10,000-person data set is absent: no file {path} "
            f"(set {REAL_DATA_VARIABLE} to its path to run this check)"
        )
    return path.read_bytes()


def people_10k_tsv() -> tuple[str, bytes]:
    """The 10,000-person set a check at scale trains on: the real one where it is found (CI),
    else `nnservice example-data`'s 10,000 generated people; with its name."""
    path = real_data_path()
    if path.is_file():
        return "weight-height", path.read_bytes()
    return "people-10k", example_people_tsv()


@functools.cache
def example_people_tsv(rows: int = 10_000, seed: int = 0) -> bytes:
    """`nnservice example-data --rows ROWS --seed SEED`'s file, as bytes."""
    out = io.StringIO()
    write_people(out, rows, seed)
    return out.getvalue().encode()
