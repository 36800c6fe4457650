"""Fixtures for the API tests that need no broker: the app on a store in tmp_path.

REDIS_URL points at a port where nothing listens, so anything that would need Redis fails for
real (connection refused) instead of being mocked; tests that need a broker use the `stack`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from foundation.settings import Settings
from model_store import ModelStore
from model_store.schema import upgrade
from service import create_app

#: Emily (128 lb, 63 in) gets about 0.95 and Frank (155 lb, 68 in) about 0.05 from this network.
SEED_LIKE_WEIGHTS = [[[-1.0, -1.0], [1.0, 1.0]], [[3.0, -3.0]]]
SEED_ROWS = [
    {"weight": 133, "height": 65, "gender": "F"},
    {"weight": 160, "height": 72, "gender": "M"},
    {"weight": 152, "height": 70, "gender": "M"},
    {"weight": 120, "height": 60, "gender": "F"},
]


def closed_port_url() -> str:
    """A redis:// URL on a free local port that nobody listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(
        redis_url=closed_port_url(),
        store_path=tmp_path / "store",
        max_body_bytes=2_000_000,
        max_predict_rows=10_000,
        job_budget=1_000_000,
    )
    upgrade(settings.store_database_url)
    return settings


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def store(settings: Settings) -> Iterator[ModelStore]:
    """A second handle on the app's store, as another process (a worker) would have."""
    opened = ModelStore.from_settings(settings)
    yield opened
    opened.close()


@pytest.fixture
def snapshot_body() -> Callable[..., dict]:
    """A valid 2-2-1 snapshot body; `flip=True` swaps the output weights (F and M trade places)."""

    def make(flip: bool = False, **overrides: object) -> dict:
        output = [-3.0, 3.0] if flip else [3.0, -3.0]
        body = {
            "layer_sizes": [2, 2, 1],
            "activation": "sigmoid",
            "loss": "mse",
            "weights": [SEED_LIKE_WEIGHTS[0], [output]],
            "biases": [[0.0, 0.0], [0.0]],
            "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
            "training": {},
        }
        body.update(overrides)
        return body

    return make


@pytest.fixture
def saved_model(store: ModelStore, snapshot_body: Callable[..., dict]) -> Callable[..., str]:
    """Save a snapshot straight into the store (as a worker would); returns its id."""

    def save(flip: bool = False, promote: bool = True) -> str:
        model_id = store.models.save(snapshot_body(flip=flip))["id"]
        if promote:
            store.models.promote(model_id)
        return model_id

    return save
