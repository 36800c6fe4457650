"""POST /batch-predictions (a dataset id, or a CSV/TSV upload), GET /batch-predictions,
GET/DELETE /batch-predictions/{id}, its CSV result, and POST /batch-predictions/{id}/cancel."""

from __future__ import annotations

from flask import Response, request, stream_with_context, url_for
from flask.views import MethodView

from service.api import Blueprint, ErrorSchema, abort, json_request_body, parse_json_body
from service.batch_predictions import (
    cancel_batch,
    delete_batch,
    finished_batch,
    result_pieces,
    submit_batch,
)
from service.context import services
from service.dataset_parsing import CONTENT_TYPES
from service.paging import page_response
from service.schemas.batch_predictions import (
    BatchPredictionAcceptedSchema,
    BatchPredictionListQuerySchema,
    BatchPredictionRequestSchema,
    BatchPredictionSchema,
    BatchPredictionUploadQuerySchema,
)
from service.schemas.paging import PAGE_HEADERS

blp = Blueprint(
    "batch_predictions",
    __name__,
    url_prefix="/batch-predictions",
    description="Score every row of a dataset or a file, in chunks, on the workers.",
)

_TABLE_EXAMPLES = {
    "text/csv": "weight,height\n128,63\n155,68\n",
    "text/tab-separated-values": "Gender\tHeight\tWeight\nMale\t73.8\t241.9\nFemale\t63.1\t135.2\n",
}
SUBMIT_BODY = {
    "required": True,
    "description": "A stored dataset (JSON), or a CSV/TSV file with a header row: weight and "
    "height, and optionally gender, in any case and order (its options in the query string).",
    "content": {
        **json_request_body("BatchPredictionRequest")["content"],
        **{
            content_type: {"schema": {"type": "string"}, "example": _TABLE_EXAMPLES[content_type]}
            for content_type in CONTENT_TYPES
        },
    },
}
RESULT_DESCRIPTION = (
    "CSV, in the input's order: weight (lb), height (in), probability_female, gender (the "
    "prediction), and true_gender when the input gave genders. Floats are written as JSON "
    "writes them (the shortest text that reads back as the same number)."
)


def _options(query: dict) -> tuple[dict, tuple | None]:
    """The request's options and its upload (stream, content type), or None for JSON."""
    if request.mimetype in CONTENT_TYPES:
        return query, (request.stream, request.mimetype)
    if request.is_json:
        return {**parse_json_body(BatchPredictionRequestSchema()), "units": None}, None
    supported = ", ".join(["application/json", *CONTENT_TYPES])
    message = f"Content-Type must be one of {supported}; got {request.mimetype or 'none'}"
    abort(415, message=message, errors={"Content-Type": [message]})


@blp.route("")
class BatchPredictions(MethodView):
    @blp.arguments(BatchPredictionListQuerySchema(), location="query")
    @blp.response(200, BatchPredictionSchema(many=True), headers=PAGE_HEADERS)
    def get(self, query: dict):
        """Batch predictions, newest first, a page at a time; filter by `state`."""
        page = services().store.batches.list(
            query["limit"], query["page_token"], state=query["state"]
        )
        return page_response(page)

    @blp.arguments(BatchPredictionUploadQuerySchema(), location="query")
    @blp.doc(requestBody=SUBMIT_BODY)
    @blp.response(
        202, BatchPredictionAcceptedSchema, description="Queued; poll status_url (also Location)."
    )
    @blp.alt_response(404, schema=ErrorSchema, description="dataset_id, model_id or alias unknown.")
    @blp.alt_response(409, schema=ErrorSchema, description="No model yet, or its file is corrupt.")
    @blp.alt_response(503, schema=ErrorSchema, description="The task queue (Redis) is unreachable.")
    def post(self, query: dict):
        """Score every row of a dataset or an uploaded file with one model, on the workers.

        The model is resolved once (model_id, or the alias's model; `latest` by default) and
        recorded. An uploaded file is read a chunk at a time, never whole.
        """
        options, upload = _options(query)
        record = submit_batch(services(), options, upload)
        status_url = url_for("batch_predictions.BatchPrediction", batch_id=record.id)
        body = {
            "batch_prediction_id": record.id,
            "status_url": status_url,
            "result_url": url_for("batch_predictions.result", batch_id=record.id),
            "model_id": record.model_id,
            "rows_total": record.rows_total,
        }
        return body, 202, {"Location": status_url}


@blp.route("/<id:batch_id>")
class BatchPrediction(MethodView):
    @blp.response(200, BatchPredictionSchema)
    def get(self, batch_id: str):
        """A batch's state, rows done of all, its model and, with genders, its accuracy and
        confusion matrix."""
        return services().store.batches.get(batch_id)

    @blp.response(204, description="Deleted, with its input copy and results.")
    @blp.alt_response(409, schema=ErrorSchema, description="Queued or running: cancel it first.")
    def delete(self, batch_id: str):
        """Delete a finished batch for good: its record, the copy of an uploaded file and its
        results. Refused (409) while it is queued or running; cancel it first."""
        delete_batch(services(), batch_id)
        return Response(status=204)


@blp.route("/<id:batch_id>/result", methods=["GET"])
@blp.response(200, {"type": "string"}, content_type="text/csv", description=RESULT_DESCRIPTION)
@blp.alt_response(409, schema=ErrorSchema, description="The batch has not succeeded.")
def result(batch_id: str):
    """The results as CSV, streamed chunk by chunk from the object store, in input order."""
    svc = services()
    record = finished_batch(svc, batch_id)
    pieces = stream_with_context(result_pieces(svc, record))
    filename = f"{record.id}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(pieces, mimetype="text/csv", headers=headers)


@blp.route("/<id:batch_id>/cancel", methods=["POST"])
@blp.response(200, BatchPredictionSchema, description="Cancelled: no further chunk is scored.")
@blp.alt_response(409, description="Already finished.", schema=ErrorSchema)
def cancel(batch_id: str):
    """Cancel a queued or running batch; chunks already scored stay counted. 409 once ended."""
    return cancel_batch(services(), batch_id)
