"""API keys on the protocol endpoints: refusals in each protocol's own shape, probes stay open."""

from __future__ import annotations

from stores import migrated

from foundation.settings import Settings
from service import create_app

from .conftest import EMILY

NESTED = {"inputs": [{"name": "features", "shape": [1, 2], "datatype": "FP64", "data": [EMILY]}]}


def test_keys_are_asked_for_in_each_protocols_shape_and_probes_stay_open(stack, tmp_path) -> None:
    settings = Settings(
        store_path=tmp_path, redis_url=stack.redis_url, api_keys=("k1",), public_reads=False
    )
    client = create_app(migrated(settings)).test_client()
    mlflow = client.post("/invocations", json={"inputs": [EMILY]})
    assert mlflow.status_code == 401 and mlflow.get_json()["error_code"] == "UNAUTHENTICATED"
    v2 = client.post("/v2/models/nnservice/infer", json=NESTED)
    assert v2.status_code == 401 and list(v2.get_json()) == ["error"]
    assert "Bearer" in v2.headers["WWW-Authenticate"]
    keyed = client.post(
        "/v2/models/nnservice/infer", json=NESTED, headers={"Authorization": "Bearer k1"}
    )
    assert keyed.status_code == 409  # past the key check; the store has no model yet
    assert client.get("/ping").status_code == 404  # open, and no model yet
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/metrics").status_code == 401
