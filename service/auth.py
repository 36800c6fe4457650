"""Bearer-key access control (NNSERVICE_API_KEYS, NNSERVICE_PUBLIC_READS).

With keys set, every request that changes state needs `Authorization: Bearer <key>`; reads and
/predict need one too unless public reads are on (the default). Health probes and the API docs
stay open. Keys are compared in constant time and never logged. A key written `name:secret` in
NNSERVICE_API_KEYS is presented as `secret` (or whole) and named `name` in the promotion history;
any other key is named by its position (`key-1`, ...); requests without a key are "anonymous".
"""

from __future__ import annotations

import hmac

from flask import Flask, g, request

from foundation.settings import Settings
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


#: `flask.g` attribute holding the name of the key that authenticated the request.
KEY_NAME = "nnservice_key_name"
ANONYMOUS = "anonymous"


def _named(keys: tuple[str, ...]) -> list[tuple[str, bytes, bytes | None]]:
    """(name, whole entry, secret after "name:" or None) of each configured key."""
    named = []
    for position, key in enumerate(keys, start=1):
        name, colon, secret = key.partition(":")
        if colon and name and secret:
            named.append((name, key.encode(), secret.encode()))
        else:
            named.append((f"key-{position}", key.encode(), None))
    return named


def _matching_key(keys: tuple[str, ...]) -> str | None:
    """The name of the key the request presents, or None if it presents none that is valid."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return None
    presented_bytes = presented.strip().encode()
    found = None
    for name, whole, secret in _named(keys):  # no early exit: the time does not depend on it
        matched = hmac.compare_digest(presented_bytes, whole)
        if secret is not None:
            matched |= hmac.compare_digest(presented_bytes, secret)
        if matched and found is None:
            found = name
    return found


def caller_name() -> str:
    """The name of the API key that authenticated this request, else "anonymous"."""
    return g.get(KEY_NAME) or ANONYMOUS


def install_auth(app: Flask, settings: Settings) -> None:
    """Register the key check; without keys, log once that the API is open."""
    if not settings.api_keys:
        app.logger.warning("NNSERVICE_API_KEYS is not set: the API accepts requests from anyone")
        return

    @app.before_request
    def _require_key() -> None:
        if request.endpoint in OPEN_ENDPOINTS or request.blueprint in OPEN_BLUEPRINTS:
            return
        name = _matching_key(settings.api_keys)
        if name is not None:
            setattr(g, KEY_NAME, name)
            return
        if not _changes_state() and settings.public_reads:
            return
        abort(
            401,
            message="a valid API key is required: Authorization: Bearer <key>",
            headers={"WWW-Authenticate": 'Bearer realm="nnservice"'},
        )
