"""The 10,000 people the benchmarks read.

The real data set where it is found (its path in `NNSERVICE_REAL_DATA`, by default
../shared/data/weight-height.tsv beside the repository), else as many realistic people from
`nnservice example-data` (seed 0), written once to test-artifacts/. The timings depend on the rows'
count and format, not on who the people are; the results in bench/README.md were measured on the
real set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the packages import without `pip install -e .` too

from nnservice.example_data import write_people  # noqa: E402

REAL_DATA = Path(
    os.environ.get("NNSERVICE_REAL_DATA") or REPO.parent / "shared/data/weight-height.tsv"
)
EXAMPLE_DATA = REPO / "test-artifacts" / "example-people-10k.tsv"


def people_file() -> Path:
    """The real data set's path if it is there, else the example people's (written if needed)."""
    if REAL_DATA.is_file():
        return REAL_DATA
    if not EXAMPLE_DATA.is_file():
        EXAMPLE_DATA.parent.mkdir(exist_ok=True)
        with EXAMPLE_DATA.open("w", newline="", encoding="utf-8") as handle:
            write_people(handle, 10_000, 0)
    print(
        f"no {REAL_DATA}: using nnservice example-data's people ({EXAMPLE_DATA})", file=sys.stderr
    )
    return EXAMPLE_DATA
