"""Fixtures for the network core's tests: the seed's four people, realistic people from
`nnservice example-data`, and the real data set where it is found (tests/people_data.py)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from people_data import example_people_tsv, real_data_tsv  # tests/people_data.py

from neural import Standardizer


def read_people(tsv: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A Gender/Height/Weight TSV as X = [weight lb, height in] and y (1 = female)."""
    rows = list(csv.DictReader(io.StringIO(tsv.decode()), delimiter="\t"))
    X = np.array([[float(row["Weight"]), float(row["Height"])] for row in rows])
    y = np.array([1.0 if row["Gender"] == "Female" else 0.0 for row in rows])
    return X, y


@pytest.fixture(scope="session")
def four_people() -> tuple[np.ndarray, np.ndarray]:
    """The seed's Alice, Bob, Charlie and Diana, shifted by 135 lb and 66 in; 1 means female."""
    raw = np.array([[133, 65], [160, 72], [152, 70], [120, 60]], dtype=float)
    shifted = Standardizer(mean=[135, 66], scale=[1, 1]).transform(raw)
    return shifted, np.array([1.0, 0.0, 0.0, 1.0])


@pytest.fixture(scope="session")
def real_people() -> tuple[np.ndarray, np.ndarray]:
    """The real 10,000 people (weight-height.tsv); skips, saying where it looked, without it."""
    return read_people(real_data_tsv())


@pytest.fixture(scope="session")
def example_people() -> tuple[np.ndarray, np.ndarray]:
    """10,000 realistic people of `nnservice example-data` (seed 0)."""
    return read_people(example_people_tsv())


@pytest.fixture(scope="session")
def thousand_people() -> tuple[np.ndarray, np.ndarray]:
    """1,000 realistic people of `nnservice example-data` (seed 1000), standardized."""
    X, y = read_people(example_people_tsv(1000, 1000))
    return Standardizer().fit(X).transform(X), y
