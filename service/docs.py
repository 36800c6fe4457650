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


def configure_docs(app: Flask, version: str) -> None:
    """flask-smorest settings: OpenAPI 3.0.3 at /openapi.json, Swagger UI at /docs."""
    app.config.update(
        API_TITLE="nnservice",
        API_VERSION=version,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=ASSETS_URL,
        API_SPEC_OPTIONS={
            "info": {
                "description": "Predicts gender from weight (lb) and height (in) with a small "
                "neural network trained by SGD; datasets, training jobs, model snapshots.",
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "Needed only where NNSERVICE_API_KEYS is set: for every "
                        "write, and for reads too when NNSERVICE_PUBLIC_READS is false.",
                    }
                }
            },
            # A key is optional or required depending on the deployment, hence the empty option.
            "security": [{"bearerAuth": []}, {}],
        },
    )
    app.register_blueprint(assets)
