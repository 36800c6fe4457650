"""Application factory: settings, extensions and blueprints."""

from __future__ import annotations

from flask import Flask

from nnservice.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app from `settings` (default: read from the environment)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["NNSERVICE_SETTINGS"] = settings

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    return app
