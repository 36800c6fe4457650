"""/openapi.json from the running API is a valid OpenAPI 3 document listing every endpoint."""

from __future__ import annotations

from openapi_spec_validator import validate

PATHS = {
    "/aliases",
    "/aliases/{name}",
    "/aliases/{name}/history",
    "/datasets",
    "/datasets/{dataset_id}",
    "/datasets/{dataset_id}/rows",
    "/train",
    "/jobs",
    "/jobs/{job_id}",
    "/jobs/{job_id}/events",
    "/events",
    "/jobs/{job_id}/cancel",
    "/sweeps",
    "/sweeps/{sweep_id}",
    "/sweeps/{sweep_id}/cancel",
    "/models",
    "/models/latest",
    "/models/{model_id}",
    "/models/{model_id}/promote",
    "/models/{model_id}/decision-grid",
    "/predict",
    "/batch-predictions",
    "/batch-predictions/{batch_id}",
    "/batch-predictions/{batch_id}/result",
    "/batch-predictions/{batch_id}/cancel",
    "/healthz",
    "/readyz",
    "/metrics",
    "/invocations",
    "/ping",
    "/version",
    "/health",
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/{name}",
    "/v2/models/{name}/ready",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/infer/binary",
    "/v2/models/{name}/versions/{version}",
    "/v2/models/{name}/versions/{version}/ready",
    "/v2/models/{name}/versions/{version}/infer",
    "/v2/models/{name}/versions/{version}/infer/binary",
    "/v2/models/{name}/config",
    "/v2/models/{name}/versions/{version}/config",
    "/v2/models/stats",
    "/v2/models/{name}/stats",
    "/v2/models/{name}/versions/{version}/stats",
    "/v2/repository/index",
}


def test_openapi_document_is_valid_and_complete(stack) -> None:
    response = stack.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == PATHS
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            bodiless = (
                "/models/{model_id}/promote",
                "/jobs/{job_id}/cancel",
                "/batch-predictions/{batch_id}/cancel",
                "/sweeps/{sweep_id}/cancel",
            )
            if method in ("post", "put", "patch") and path not in bodiless:
                assert "requestBody" in operation, (path, method)
            codes = set(operation["responses"])
            assert any(code.startswith("2") for code in codes), (path, method)


def test_interactive_docs_are_served(stack) -> None:
    page = stack.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert stack.get("/docs/assets/swagger-ui.css").status_code == 200
