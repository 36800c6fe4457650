"""Interactive API docs at /docs: flask-smorest's Swagger UI page, with the Swagger UI files
served from the `swagger-ui-bundle` package, so the docs work on machines without internet."""

from __future__ import annotations

from flask import Blueprint, Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/docs/assets/"

assets = Blueprint("docs_assets", __name__)


@assets.get(f"{ASSETS_URL}<path:filename>")
def asset(filename: str):
    """A file of the bundled Swagger UI (JS, CSS, icons)."""
    return send_from_directory(swagger_ui_path, filename, max_age=3600)


#: Bearer keys, declared in the OpenAPI document only where NNSERVICE_API_KEYS is set (Swagger UI
#: then shows its padlocks and Authorize button; without keys there is nothing to authorize).
SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "Needed for every write, and for reads too when NNSERVICE_PUBLIC_READS is "
        "false.",
    }
}


def configure_docs(app: Flask, version: str, api_keys: bool) -> None:
    """flask-smorest settings: OpenAPI 3.0.3 at /openapi.json, Swagger UI at /docs; the bearer
    scheme only when the API has keys (`api_keys`)."""
    spec_options: dict = {
        "info": {
            "description": "Predicts gender from weight (lb) and height (in) with a small "
            "neural network trained by SGD; datasets, training jobs, model snapshots. Every "
            "request body may be sent compressed (Content-Encoding: gzip or deflate); the body "
            "limit applies to it decompressed too.",
        },
    }
    if api_keys:
        spec_options["components"] = {"securitySchemes": SECURITY_SCHEMES}
        # Reads may stay open (NNSERVICE_PUBLIC_READS), hence the empty option.
        spec_options["security"] = [{"bearerAuth": []}, {}]
    app.config.update(
        API_TITLE="nnservice",
        API_VERSION=version,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=ASSETS_URL,
        API_SPEC_OPTIONS=spec_options,
    )
    app.register_blueprint(assets)
