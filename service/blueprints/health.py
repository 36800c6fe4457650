"""GET /healthz (the process answers) and GET /readyz (Redis, a worker and the store answer, and
the process has loaded its model)."""

from __future__ import annotations

from service.api import Blueprint, ErrorSchema, abort
from service.context import services
from service.readiness import readiness_problems
from service.schemas.health import HealthSchema, ReadySchema

blp = Blueprint("health", __name__, description="Liveness and readiness.")

READY_CHECKS = ("redis", "workers", "store", "model")


@blp.route("/healthz", methods=["GET"])
@blp.response(200, HealthSchema)
def healthz():
    """The API process is alive (checks nothing else)."""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@blp.response(200, ReadySchema)
@blp.alt_response(503, description="Names each part that is not ready.", schema=ErrorSchema)
def readyz():
    """Ready: Redis answers PING, a Celery worker answers a ping, the store is writable, and this
    process has loaded the latest model (if one is promoted)."""
    problems = readiness_problems(services())
    if problems:
        abort(503, message="not ready: " + ", ".join(problems), errors=problems)
    return {"status": "ready", "checks": {name: "ok" for name in READY_CHECKS}}
