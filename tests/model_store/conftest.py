"""Fixtures for the model store tests: a store in tmp_path, snapshot factories, child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from model_store import ModelStore

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(store_locations: tuple[str, str]) -> Iterator[ModelStore]:
    """An empty store on each backend (SQLite + a directory; PostgreSQL + S3 in CI)."""
    opened = ModelStore(*store_locations)
    yield opened
    opened.close()


@pytest.fixture
def make_snapshot() -> Callable[..., dict]:
    """A valid 2-2-1 snapshot body (what a worker passes to save_snapshot), with overrides."""

    def make(job_id: str | None = None, **overrides: object) -> dict:
        snapshot = {
            "layer_sizes": [2, 2, 1],
            "loss": "mse",
            "weights": [[[0.5, -0.25], [1.5, 0.75]], [[2.0, -1.0]]],
            "biases": [[0.1, -0.2], [0.3]],
            "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
            "training": {
                "dataset_id": "ds-0123456789abcdef01234567",
                "job_id": job_id,
                "hyperparameters": {"epochs": 10, "learning_rate": 0.1},
                "seed": 0,
                "epochs": 10,
                "loss_history": [0.3, 0.2, 0.1],
                "final_loss": 0.1,
                "train_accuracy": 1.0,
                "validation_accuracy": None,
                "initial_model_id": None,
            },
        }
        snapshot.update(overrides)
        return snapshot

    return make


@pytest.fixture
def run_python() -> Callable[..., subprocess.Popen]:
    """Start `code` in a fresh Python process (the repo importable); the caller waits for it."""
    started: list[subprocess.Popen] = []

    def run(code: str, *args: str) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()
