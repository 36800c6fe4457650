"""POST /datasets (JSON rows, CSV or TSV), GET /datasets, GET /datasets/{id}."""

from __future__ import annotations

from flask import request, url_for
from flask.views import MethodView

from service.api import Blueprint, abort, json_request_body, parse_json_body
from service.context import services
from service.dataset_parsing import CONTENT_TYPES, TableError, parse_table
from service.measurements import check_both_classes
from service.paging import page_response
from service.schemas.datasets import (
    DatasetCreateSchema,
    DatasetSchema,
    DatasetUploadQuerySchema,
)
from service.schemas.paging import PAGE_HEADERS, DatasetListQuerySchema

blp = Blueprint("datasets", __name__, url_prefix="/datasets", description="Training data.")

_TABLE_EXAMPLES = {
    "text/csv": "Gender,Height,Weight\nMale,73.8,241.9\nFemale,63.1,135.2\n",
    "text/tab-separated-values": "Gender\tHeight\tWeight\nMale\t73.8\t241.9\nFemale\t63.1\t135.2\n",
}
UPLOAD_BODY = {
    "required": True,
    "description": "JSON rows, or a CSV/TSV file with a header row (weight, height, gender in any "
    "case and order); for files, name and units come from the query string.",
    "content": {
        **json_request_body("DatasetCreate")["content"],
        **{
            content_type: {"schema": {"type": "string"}, "example": _TABLE_EXAMPLES[content_type]}
            for content_type in CONTENT_TYPES
        },
    },
}


def _read_upload(query: dict) -> tuple[str, object]:
    """(name, columns) from the request body, whatever its supported content type."""
    if request.mimetype in CONTENT_TYPES:
        try:
            columns = parse_table(request.get_data(), request.mimetype, query["units"])
        except TableError as exc:
            abort(422, message=str(exc), errors={"file": exc.errors})
        problem = check_both_classes(columns.label)
        if problem:  # the same rule as for JSON rows: no empty or one-class datasets
            abort(422, message=problem, errors={"file": [problem]})
        return query["name"], columns
    if request.is_json:
        data = parse_json_body(DatasetCreateSchema())
        return data["name"], data["columns"]
    supported = ", ".join(["application/json", *CONTENT_TYPES])
    message = f"Content-Type must be one of {supported}; got {request.mimetype or 'none'}"
    abort(415, message=message, errors={"Content-Type": [message]})


@blp.route("")
class Datasets(MethodView):
    @blp.arguments(DatasetListQuerySchema(), location="query")
    @blp.response(200, DatasetSchema(many=True), headers=PAGE_HEADERS)
    def get(self, query: dict):
        """Datasets, newest first, a page at a time."""
        return page_response(services().store.datasets.list(query["limit"], query["page_token"]))

    @blp.arguments(DatasetUploadQuerySchema(), location="query")
    @blp.doc(requestBody=UPLOAD_BODY)
    @blp.response(201, DatasetSchema, description="Stored; Location names it.")
    @blp.alt_response(
        200, schema=DatasetSchema, description="The same rows were stored before.", success=True
    )
    def post(self, query: dict):
        """Upload a dataset: the id derives from the rows, so re-uploads answer 200 and the same id.

        Rows need both genders; weights 1-1500 lb and heights 10-120 in (or metric equivalents).
        """
        name, columns = _read_upload(query)
        info, created = services().store.datasets.save(
            name, columns.weight, columns.height, columns.label
        )
        location = url_for("datasets.Dataset", dataset_id=info.id)
        return info, 201 if created else 200, {"Location": location}


@blp.route("/<id:dataset_id>")
class Dataset(MethodView):
    @blp.response(200, DatasetSchema)
    def get(self, dataset_id: str):
        """One dataset's metadata."""
        return services().store.datasets.get(dataset_id)
