"""Bearer-key access control (NNSERVICE_API_KEYS, NNSERVICE_PUBLIC_READS).

With keys set, every request that changes state needs `Authorization: Bearer <key>`; reads and
/predict need one too unless public reads are on (the default). Health probes and the API docs
stay open. Keys are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac

from flask import Flask, request

from nnservice.config import Settings
from service.api import abort

#: Endpoints that never need a key (probes, the OpenAPI document and its UI, the dashboard's
#: page and static files, which hold no data: the page calls the API with the user's key).
OPEN_ENDPOINTS = frozenset(
    {
        "health.healthz",
        "health.readyz",
        "static",
        "mlflow.ping",
        "mlflow.health",
        "v2.live",
        "v2.ready",
    }
)
OPEN_BLUEPRINTS = frozenset({"api-docs", "docs_assets", "dashboard"})
#: POSTs that only read (they change nothing in the store).
READ_ONLY_POSTS = frozenset(
    {
        "predict.predict",
        "mlflow.invocations",
        "v2.infer_latest",
        "v2.infer_version",
        "v2.repository_index",
    }
)


def _changes_state() -> bool:
    if request.endpoint in READ_ONLY_POSTS:
        return False
    return request.method not in ("GET", "HEAD", "OPTIONS")


def _key_matches(keys: tuple[str, ...]) -> bool:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    presented_bytes = presented.strip().encode()
    matched = False
    for key in keys:  # no early exit: the time does not depend on which key matched
        matched |= hmac.compare_digest(presented_bytes, key.encode())
    return matched


def install_auth(app: Flask, settings: Settings) -> None:
    """Register the key check; without keys, log once that the API is open."""
    if not settings.api_keys:
        app.logger.warning("NNSERVICE_API_KEYS is not set: the API accepts requests from anyone")
        return

    @app.before_request
    def _require_key() -> None:
        if request.endpoint in OPEN_ENDPOINTS or request.blueprint in OPEN_BLUEPRINTS:
            return
        if not _changes_state() and settings.public_reads:
            return
        if not _key_matches(settings.api_keys):
            abort(
                401,
                message="a valid API key is required: Authorization: Bearer <key>",
                headers={"WWW-Authenticate": 'Bearer realm="nnservice"'},
            )
