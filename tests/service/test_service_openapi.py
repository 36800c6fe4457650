"""The OpenAPI document is valid and complete; /docs works offline (bundled Swagger UI)."""

from __future__ import annotations

from flask.testing import FlaskClient
from openapi_spec_validator import validate

from foundation.settings import Settings
from service import create_app

EXPECTED = {
    "/aliases": {"get"},
    "/aliases/{name}": {"get", "put", "delete"},
    "/aliases/{name}/history": {"get"},
    "/datasets": {"get", "post"},
    "/datasets/{dataset_id}": {"get", "delete"},
    "/datasets/{dataset_id}/rows": {"get"},
    "/train": {"post"},
    "/jobs": {"get"},
    "/jobs/{job_id}": {"get", "delete"},
    "/jobs/{job_id}/cancel": {"post"},
    "/sweeps": {"get", "post"},
    "/sweeps/{sweep_id}": {"get"},
    "/sweeps/{sweep_id}/cancel": {"post"},
    "/jobs/{job_id}/events": {"get"},
    "/events": {"get"},
    "/models": {"get", "post"},
    "/models/latest": {"get"},
    "/models/{model_id}": {"get", "delete"},
    "/models/{model_id}/promote": {"post"},
    "/models/{model_id}/decision-grid": {"get"},
    "/predict": {"post"},
    "/batch-predictions": {"get", "post"},
    "/batch-predictions/{batch_id}": {"get", "delete"},
    "/batch-predictions/{batch_id}/result": {"get"},
    "/batch-predictions/{batch_id}/cancel": {"post"},
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/metrics": {"get"},
    "/invocations": {"post"},
    "/ping": {"get"},
    "/version": {"get"},
    "/health": {"get"},
    "/v2": {"get"},
    "/v2/health/live": {"get"},
    "/v2/health/ready": {"get"},
    "/v2/models/{name}": {"get"},
    "/v2/models/{name}/ready": {"get"},
    "/v2/models/{name}/infer": {"post"},
    "/v2/models/{name}/infer/binary": {"post"},
    "/v2/models/{name}/versions/{version}": {"get"},
    "/v2/models/{name}/versions/{version}/ready": {"get"},
    "/v2/models/{name}/versions/{version}/infer": {"post"},
    "/v2/models/{name}/versions/{version}/infer/binary": {"post"},
    "/v2/models/{name}/config": {"get"},
    "/v2/models/{name}/versions/{version}/config": {"get"},
    "/v2/models/stats": {"get"},
    "/v2/models/{name}/stats": {"get"},
    "/v2/models/{name}/versions/{version}/stats": {"get"},
    "/v2/repository/index": {"post"},
}


def test_openapi_document_is_valid_and_lists_every_endpoint(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert {path: set(ops) - {"parameters"} for path, ops in spec["paths"].items()} == EXPECTED
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert any(code.startswith("2") for code in operation["responses"]), (path, method)
            assert "default" in operation["responses"], (path, method)


def test_request_bodies_are_described(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert set(spec["paths"]["/datasets"]["post"]["requestBody"]["content"]) == {
        "application/json",
        "text/csv",
        "text/tab-separated-values",
    }
    hyperparameters = schemas["Hyperparameters"]["properties"]
    assert hyperparameters["epochs"]["default"] == 1000
    assert hyperparameters["epochs"]["maximum"] == 100_000
    objects, pairs = schemas["PredictRequest"]["properties"]["instances"]["oneOf"]
    assert pairs["items"]["minItems"] == pairs["items"]["maxItems"] == 2
    instance = objects["items"]
    assert instance["required"] == ["weight", "height"]
    assert "1-1500" in instance["properties"]["weight"]["description"]
    assert schemas["Error"]["properties"].keys() >= {"code", "status", "message", "errors"}


def test_docs_page_uses_bundled_assets(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in html
    assert "/openapi.json" in html
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.get_data()) > 100_000
    script.close()


def test_no_security_scheme_without_api_keys(client: FlaskClient) -> None:
    """Without NNSERVICE_API_KEYS there is nothing to authorize: no padlocks in Swagger UI."""
    spec = client.get("/openapi.json").get_json()
    assert "security" not in spec
    assert "securitySchemes" not in spec.get("components", {})
    for operations in spec["paths"].values():
        for operation in operations.values():
            assert "security" not in operation


def test_the_bearer_scheme_is_declared_with_api_keys(settings: Settings) -> None:
    keyed = settings.model_copy(update={"api_keys": ("k-one",)})
    spec = create_app(keyed).test_client().get("/openapi.json").get_json()
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}, {}]


def test_the_promotion_gate_is_described(client: FlaskClient) -> None:
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    train = schemas["TrainRequest"]["properties"]
    assert train["promote"]["default"] is True
    assert {"type": "string", "enum": ["if_better"]} in train["promote"]["oneOf"]
    assert "majority class" in train["promote"]["description"]
    assert train["promote_alias"]["pattern"] == "^[a-z][a-z0-9_-]{0,63}$"
    job = schemas["Job"]["properties"]
    assert "promotion" in job and "promote_alias" in job
    assert set(schemas["Promotion"]["properties"]) == {"promoted", "alias", "reason"}
