"""NNSERVICE_API_KEYS: writes need a bearer key; reads too when public reads are off."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from foundation.settings import Settings
from service import create_app

from .conftest import SEED_ROWS


def client_for(settings: Settings, **changes: object) -> FlaskClient:
    keyed = settings.model_copy(update={"api_keys": ("k-one", "k-two"), **changes})
    return create_app(keyed).test_client()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/datasets", {"rows": SEED_ROWS}),
        ("post", "/train", {"rows": SEED_ROWS}),
        ("delete", "/jobs/abc", None),
        ("post", "/models", {}),
        ("post", "/models/m-x/promote", None),
        ("post", "/batch-predictions", {"dataset_id": "ds-x"}),
        ("post", "/batch-predictions/bp-x/cancel", None),
    ],
)
def test_writes_need_a_key(settings: Settings, method: str, path: str, body) -> None:
    client = client_for(settings)
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["code"] == 401
    wrong = getattr(client, method)(path, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_a_valid_key_is_let_through(settings: Settings) -> None:
    client = client_for(settings)
    response = client.post(
        "/datasets", json={"rows": SEED_ROWS}, headers={"Authorization": "Bearer k-two"}
    )
    assert response.status_code == 201


def test_reads_are_public_by_default_and_can_be_closed(settings: Settings) -> None:
    open_reads = client_for(settings)
    assert open_reads.get("/datasets").status_code == 200
    assert open_reads.post("/predict", json={"weight": 128, "height": 63}).status_code == 409
    closed = client_for(settings, public_reads=False)
    assert closed.get("/datasets").status_code == 401
    assert closed.post("/predict", json={"weight": 128, "height": 63}).status_code == 401
    assert closed.get("/datasets", headers={"Authorization": "Bearer k-one"}).status_code == 200
    assert closed.get("/healthz").status_code == 200
    assert closed.get("/openapi.json").status_code == 200
