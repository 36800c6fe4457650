"""Routing answers JSON in the common error shape, never Werkzeug's HTML: an empty id (`//`) is a
404, and a redirect that routing still makes (here a rule with `redirect_to`) keeps its status
and Location with a JSON body."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

ERROR_KEYS = {"code", "status", "message", "errors"}


def _get(client: FlaskClient, path: str):
    """GET `path` exactly as written (the test client would read `//x` as a host name)."""
    return client.get("/", environ_overrides={"PATH_INFO": path})


@pytest.mark.parametrize(
    "path",
    ["/jobs//events", "/models//promote", "/datasets//", "/jobs//", "/static//dashboard.css"],
)
def test_an_empty_path_segment_is_a_json_404(client: FlaskClient, path: str) -> None:
    response = _get(client, path)

    assert response.status_code == 404
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == 404 and body["status"] == "Not Found"
    assert body["message"] == f"no such endpoint: GET {path}"


def test_a_redirect_made_by_routing_answers_json(app: Flask) -> None:
    app.add_url_rule("/old-health", endpoint="old_health", redirect_to="/healthz")

    response = _get(app.test_client(), "/old-health")

    assert response.status_code == 308
    assert response.headers["Location"].endswith("/healthz")
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["code"] == 308
    assert body["message"] == f"this resource is at {response.headers['Location']}"
