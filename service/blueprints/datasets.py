"""POST /datasets (JSON rows, CSV or TSV), GET /datasets, GET/DELETE /datasets/{id},
GET /datasets/{id}/rows."""

from __future__ import annotations

import dataclasses

from flask import Response, request, url_for
from flask.views import MethodView

from model_store import DatasetRecord
from model_store.errors import NotFound, ObjectStoreUnreachable, StoreError
from service.api import (
    Blueprint,
    ErrorSchema,
    abort,
    json_request_body,
    json_response,
    parse_json_body,
)
from service.context import services
from service.dataset_parsing import CONTENT_TYPES, TableError, parse_table
from service.measurements import UNIT_NAMES, check_both_classes, from_imperial, range_text
from service.paging import page_response
from service.schemas.datasets import (
    DatasetCreateSchema,
    DatasetDetailSchema,
    DatasetSchema,
    DatasetStoredBeforeSchema,
    DatasetUploadQuerySchema,
)
from service.schemas.paging import PAGE_HEADERS, DatasetListQuerySchema
from service.schemas.pictures import DatasetRowsQuerySchema, DatasetRowsSchema

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

#: POST /datasets' description in the OpenAPI document, with the bounds as they are enforced.
UPLOAD_DESCRIPTION = (
    f"Rows need both genders; weights {range_text('imperial', 'weight')} lb and heights "
    f"{range_text('imperial', 'height')} in (or metric equivalents)."
)


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


def _stored_before_message(info: DatasetRecord, requested_name: str) -> str:
    """What an upload of rows stored before answers: the dataset exists, under which name."""
    stored = f"These rows are already stored as dataset {info.id} named {info.name!r}"
    if requested_name == info.name:
        return f"{stored}."
    return (
        f"{stored}; it keeps that name, {requested_name!r} was not applied "
        "(a dataset is named by its first upload)."
    )


@blp.route("")
class Datasets(MethodView):
    @blp.arguments(DatasetListQuerySchema(), location="query")
    @blp.response(200, DatasetSchema(many=True), headers=PAGE_HEADERS)
    def get(self, query: dict):
        """Datasets, newest first, a page at a time."""
        return page_response(services().store.datasets.list(query["limit"], query["page_token"]))

    @blp.arguments(DatasetUploadQuerySchema(), location="query")
    @blp.doc(requestBody=UPLOAD_BODY, description=UPLOAD_DESCRIPTION)
    @blp.response(201, DatasetSchema, description="Stored; Location names it.")
    @blp.alt_response(
        200,
        schema=DatasetStoredBeforeSchema,
        description="The same rows were stored before: the stored dataset, under its first name.",
        success=True,
    )
    def post(self, query: dict):
        """Upload a dataset: the id derives from the rows, so re-uploads answer 200 and the same id.

        A re-upload keeps the first upload's name; its answer says so in `message`. The rows'
        rules are in UPLOAD_DESCRIPTION (the OpenAPI document's description).
        """
        name, columns = _read_upload(query)
        info, created = services().store.datasets.save(
            name, columns.weight, columns.height, columns.label
        )
        location = url_for("datasets.Dataset", dataset_id=info.id)
        if created:
            return info, 201, {"Location": location}
        stored = {**dataclasses.asdict(info), "message": _stored_before_message(info, name)}
        return stored, 200, {"Location": location}


@blp.route("/<id:dataset_id>")
class Dataset(MethodView):
    @blp.response(200, DatasetDetailSchema)
    def get(self, dataset_id: str):
        """One dataset's metadata, and whether training can read its rows (`status`)."""
        datasets = services().store.datasets
        info = datasets.get(dataset_id)
        return {**dataclasses.asdict(info), **dataclasses.asdict(datasets.check(dataset_id))}

    @blp.response(204, description="Deleted, with its rows.")
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="A queued or running job trains on it (`errors.jobs` names them).",
    )
    def delete(self, dataset_id: str):
        """Delete a dataset and its rows for good; refused while a queued or running job
        trains on it. Models trained on it keep its id as their lineage and keep serving."""
        services().store.datasets.delete(dataset_id)
        return Response(status=204)


@blp.route("/<id:dataset_id>/rows")
@blp.arguments(DatasetRowsQuerySchema(), location="query")
@blp.response(200, DatasetRowsSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Its rows are missing or unreadable.")
def dataset_rows(query: dict, dataset_id: str):
    """The dataset's rows as columns (weight, height, gender), at most `limit` of them picked
    evenly over it: what the dashboard draws its people from."""
    try:
        sample = services().store.datasets.sample(dataset_id, query["limit"])
    except (NotFound, ObjectStoreUnreachable):
        raise  # 404 and 503 by their own handlers
    except StoreError as error:
        abort(409, message=str(error), errors={"dataset_id": [str(error)]})
    units = query["units"]
    features = from_imperial(sample.X, units)
    return json_response(
        {
            "dataset_id": sample.info.id,
            "rows": sample.info.rows,
            "returned": len(sample.y),
            "units": dict(UNIT_NAMES[units]),
            "weight": features[:, 0].tolist(),
            "height": features[:, 1].tolist(),
            "gender": ["F" if label == 1.0 else "M" for label in sample.y.tolist()],
        }
    )
