"""GET/POST /models, GET /models/latest, GET/DELETE /models/{id}, POST /models/{id}/promote,
GET /models/{id}/decision-grid."""

from __future__ import annotations

from flask import Response, request, url_for
from flask.views import MethodView

from model_store.models import LATEST
from service.api import Blueprint, ErrorSchema, abort, json_response
from service.auth import caller_name
from service.context import services
from service.decision_grid import GridError, decision_grid
from service.paging import page_response
from service.prediction import model_or_abort
from service.schemas.models import ModelSummarySchema, SnapshotSchema
from service.schemas.paging import PAGE_HEADERS, ModelListQuerySchema
from service.schemas.pictures import DecisionGridQuerySchema, DecisionGridSchema
from service.snapshot_import import import_snapshot

blp = Blueprint("models", __name__, url_prefix="/models", description="Trained models.")


@blp.route("")
class Models(MethodView):
    @blp.arguments(ModelListQuerySchema(), location="query")
    @blp.response(200, ModelSummarySchema(many=True), headers=PAGE_HEADERS)
    def get(self, query: dict):
        """Models, newest first, a page at a time (filter by `dataset_id`); one whose snapshot
        was found unreadable has status "corrupt" and the reason."""
        return page_response(
            services().store.models.list(
                query["limit"], query["page_token"], dataset_id=query["dataset_id"]
            )
        )

    @blp.arguments(SnapshotSchema())
    @blp.response(201, SnapshotSchema, description="Imported (not promoted).")
    @blp.alt_response(200, schema=SnapshotSchema, description="Already here, same content.")
    @blp.alt_response(409, schema=ErrorSchema, description="A different model has this id.")
    def post(self, _: dict):
        """Import a snapshot (e.g. one exported with GET /models/{id}); 422 names a bad field."""
        stored, created = import_snapshot(services().store, request.get_json())
        if created:  # under the id of a model deleted before? served from the next request
            services().models.expire()
        location = url_for("models.Model", model_id=stored["id"])
        return stored, 201 if created else 200, {"Location": location}


@blp.route("/latest")
class LatestModel(MethodView):
    @blp.response(200, SnapshotSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No model has been promoted yet.")
    @blp.alt_response(409, schema=ErrorSchema, description="The latest snapshot is corrupt.")
    def get(self):
        """The snapshot /predict uses by default; 404 before any model is promoted."""
        model_id = services().store.models.latest_id()
        if model_id is None:
            abort(404, message="no model has been promoted yet")
        return services().store.models.snapshot(model_id)


@blp.route("/<id:model_id>")
class Model(MethodView):
    @blp.response(200, SnapshotSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Its file is corrupt.")
    def get(self, model_id: str):
        """The model's snapshot; 409 if its file is corrupt."""
        return services().store.models.snapshot(model_id)


@blp.route("/<model:model_id>", methods=["DELETE"])
@blp.response(204, description="Deleted, with its snapshot; its promotions stay in history.")
@blp.alt_response(
    409,
    schema=ErrorSchema,
    description="An alias names it (`errors.aliases`), or a queued or running job starts "
    "from it or will save it (`errors.jobs`).",
)
def delete_model(model_id: str):
    """Delete a model and its snapshot for good; refused while an alias (such as `latest`)
    names it or an unfinished job needs it."""
    services().store.models.delete(model_id)
    services().models.forget(model_id)  # NotFound here from the next request on
    return Response(status=204)


@blp.route("/<id:model_id>/promote", methods=["POST"])
@blp.response(200, ModelSummarySchema)
@blp.alt_response(409, schema=ErrorSchema, description="Its file is corrupt.")
def promote(model_id: str):
    """Make this model the latest; /predict picks it up without a restart."""
    services().store.models.promote(model_id, caller_name())
    return services().store.models.get(model_id)


@blp.route("/<id:model_id>/decision-grid")
@blp.arguments(DecisionGridQuerySchema(), location="query")
@blp.response(200, DecisionGridSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Its file is corrupt, or none is latest.")
@blp.alt_response(
    503,
    schema=ErrorSchema,
    description="The model is not loaded here and the store is unreachable (named in `errors`).",
)
def decision_grid_of(query: dict, model_id: str):
    """The model's probability of female on a grid of weights and heights (`latest`: the latest
    model), as /predict would answer each point: what the dashboard draws the decision boundary
    from. 422 names a parameter out of its bounds, or a lowest value not below the highest."""
    if model_id == LATEST:
        model = model_or_abort(services().models, None, LATEST, None)
    else:
        model = model_or_abort(services().models, model_id, None, None)
    try:
        answer = decision_grid(model, query)
    except GridError as error:
        abort(422, message="invalid grid: " + ", ".join(error.errors), errors=error.errors)
    return json_response(answer)  # up to 40,000 numbers: built directly, not by marshmallow
