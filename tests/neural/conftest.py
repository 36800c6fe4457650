"""Fixtures for the network core's tests: the seed's four people and the shared real data set."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from neural import Standardizer

#: The shared folder sits beside the repository: <parent>/main/tests/neural -> <parent>/shared.
DATA = Path(__file__).resolve().parents[3] / "shared/data/weight-height.tsv"


@pytest.fixture(scope="session")
def four_people() -> tuple[np.ndarray, np.ndarray]:
    """The seed's Alice, Bob, Charlie and Diana, shifted by 135 lb and 66 in; 1 means female."""
    raw = np.array([[133, 65], [160, 72], [152, 70], [120, 60]], dtype=float)
    shifted = Standardizer(mean=[135, 66], scale=[1, 1]).transform(raw)
    return shifted, np.array([1.0, 0.0, 0.0, 1.0])


@pytest.fixture(scope="session")
def real_people() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 people of weight-height.tsv as X = [weight lb, height in] and y (1 = female)."""
    if not DATA.is_file():
        pytest.skip(f"the shared data set {DATA} is absent")
    with DATA.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    X = np.array([[float(row["Weight"]), float(row["Height"])] for row in rows])
    y = np.array([1.0 if row["Gender"] == "Female" else 0.0 for row in rows])
    return X, y


@pytest.fixture(scope="session")
def thousand_people(real_people: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """1,000 rows of the real data, drawn with a fixed seed and standardized."""
    X, y = real_people
    rows = np.random.default_rng(1000).choice(X.shape[0], size=1000, replace=False)
    return Standardizer().fit(X[rows]).transform(X[rows]), y[rows]
