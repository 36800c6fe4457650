"""An API process whose store's database is a PostgreSQL that is not running (connections are
refused, for real): every endpoint that serves a model answers 503 saying that the database is
unreachable, in its protocol's shape, and never "no model yet"; /readyz says the model is not
loaded and why."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from foundation.settings import Settings
from nnservice.embedded_redis import free_port
from service import create_app

from .conftest import closed_port_url

UNREACHABLE = "the store's database is unreachable; try again shortly"
EMILY = {"weight": 128, "height": 63}


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    """The app with NNSERVICE_DATABASE_URL naming a PostgreSQL port where nothing listens."""
    settings = Settings(
        redis_url=closed_port_url(),
        store_path=tmp_path / "store",
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nnservice",
    )
    return create_app(settings).test_client()


def test_predict_names_the_unreachable_database(client: FlaskClient) -> None:
    for body in (EMILY, {**EMILY, "model_id": "m-0123456789abcdef01234567"}):
        response = client.post("/predict", json=body)
        assert response.status_code == 503, response.text
        assert response.get_json() == {
            "code": 503,
            "status": "Service Unavailable",
            "message": UNREACHABLE,
            "errors": {"database": [UNREACHABLE]},
        }


def test_the_protocols_say_so_in_their_own_shape(client: FlaskClient) -> None:
    mlflow = client.post("/invocations", json={"inputs": [[128, 63]]})
    assert mlflow.status_code == 503, mlflow.text
    assert mlflow.get_json() == {"error_code": "TEMPORARILY_UNAVAILABLE", "message": UNREACHABLE}
    assert client.get("/ping").status_code == 503  # not "404: no model yet"
    features = {"name": "features", "shape": [1, 2], "datatype": "FP32", "data": [128, 63]}
    v2 = client.post("/v2/models/nnservice/infer", json={"inputs": [features]})
    assert v2.status_code == 503 and v2.get_json() == {"error": UNREACHABLE}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 400 and ready.get_json() == {"ready": False}


def test_readyz_says_the_model_is_not_loaded_and_why(client: FlaskClient) -> None:
    body = client.get("/readyz").get_json()
    assert body["code"] == 503
    (problem,) = body["errors"]["model"]
    assert problem == (
        "the model this process serves is not loaded yet: the store's database is unreachable"
    )
    assert "model" in body["message"]
