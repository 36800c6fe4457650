"""GET/POST /models, GET /models/latest, GET /models/{id}, POST /models/{id}/promote."""

from __future__ import annotations

from flask import request, url_for
from flask.views import MethodView

from service.api import Blueprint, ErrorSchema, abort
from service.context import services
from service.schemas.models import ModelSummarySchema, SnapshotSchema
from service.snapshot_import import import_snapshot

blp = Blueprint("models", __name__, url_prefix="/models", description="Model snapshots.")


def _summary(model_id: str) -> dict:
    for summary in services().store.list_snapshots():
        if summary["id"] == model_id:
            return summary
    abort(404, message=f"model {model_id!r} not found")


@blp.route("")
class Models(MethodView):
    @blp.response(200, ModelSummarySchema(many=True))
    def get(self):
        """Every snapshot, newest first; unreadable ones have status "corrupt" and the reason."""
        return services().store.list_snapshots()

    @blp.arguments(SnapshotSchema())
    @blp.response(201, SnapshotSchema, description="Imported (not promoted).")
    @blp.alt_response(200, schema=SnapshotSchema, description="Already here, same content.")
    @blp.alt_response(409, schema=ErrorSchema, description="A different model has this id.")
    def post(self, _: dict):
        """Import a snapshot (e.g. one exported with GET /models/{id}); 422 names a bad field."""
        stored, created = import_snapshot(services().store, request.get_json())
        location = url_for("models.Model", model_id=stored["id"])
        return stored, 201 if created else 200, {"Location": location}


@blp.route("/latest")
class LatestModel(MethodView):
    @blp.response(200, SnapshotSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No model has been promoted yet.")
    @blp.alt_response(409, schema=ErrorSchema, description="The latest snapshot is corrupt.")
    def get(self):
        """The snapshot /predict uses by default; 404 before any model is promoted."""
        model_id = services().store.latest_model_id()
        if model_id is None:
            abort(404, message="no model has been promoted yet")
        return services().store.get_snapshot(model_id)


@blp.route("/<id:model_id>")
class Model(MethodView):
    @blp.response(200, SnapshotSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Its file is corrupt.")
    def get(self, model_id: str):
        """The snapshot itself; 409 if its file is corrupt."""
        return services().store.get_snapshot(model_id)


@blp.route("/<id:model_id>/promote", methods=["POST"])
@blp.response(200, ModelSummarySchema)
@blp.alt_response(409, schema=ErrorSchema, description="Its file is corrupt.")
def promote(model_id: str):
    """Make this model the latest; /predict picks it up without a restart."""
    services().store.promote(model_id)
    return _summary(model_id)
