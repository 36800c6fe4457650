"""The Open Inference Protocol (KServe v2) REST API: health, server and model metadata,
inference. One model name, `nnservice`: without a version it is the latest model, and its
versions are the model ids. Same models and predict path as POST /predict; values in lb and in.
Errors are the protocol's `{"error": "..."}`.
"""

from __future__ import annotations

from flask import Response, current_app, request

from model_store.trained_model import TrainedModel
from service import v2_binary
from service.api import Blueprint, json_response, loads_json
from service.context import services
from service.inference_v2 import (
    MODEL_NAME,
    infer_response,
    model_config,
    model_metadata,
    parse_infer_request,
)
from service.logging_setup import current_request_id
from service.metrics import request_totals
from service.prediction import probabilities
from service.protocol_errors import ProtocolError, answer_errors_in_shape
from service.schemas.protocols import (
    V2_INFER_BINARY_BODY,
    V2_INFER_BINARY_HEADER,
    V2_INFER_BODY,
    V2_INFER_RESPONSE,
    V2_REPOSITORY_INDEX_BODY,
    V2ErrorSchema,
    V2InferResponseSchema,
    V2LiveSchema,
    V2ModelConfigSchema,
    V2ModelMetadataSchema,
    V2ModelReadySchema,
    V2ReadySchema,
    V2RepositoryModelSchema,
    V2ServerMetadataSchema,
    V2StatisticsSchema,
)
from service.serving_errors import Reason, Unservable, check_model, pick_model

blp = Blueprint(
    "v2",
    __name__,
    url_prefix="/v2",
    description="Open Inference Protocol (KServe v2) over HTTP: model `nnservice`, versions "
    "are model ids; input `features` [n, 2] (weight lb, height in), outputs "
    "`probability_female` and `gender` [n, 1].",
)

MODEL = "/models/<string:name>"
VERSION = "/models/<string:name>/versions/<id:version>"
#: The documented path parameter: this server has one model name.
NAME = [
    {
        "in": "path",
        "name": "name",
        "required": True,
        "schema": {"type": "string", "enum": [MODEL_NAME]},
        "description": "The model name; its versions are the model ids.",
    }
]


def v2_error(status: int, message: str, code: str | None = None) -> Response:
    """An error in the protocol's shape (which has no error codes)."""
    return json_response({"error": message}, status)


answer_errors_in_shape(blp, v2_error)


def _check_name(name: str) -> None:
    """404 for a model name other than the one this server serves."""
    if name != MODEL_NAME:
        raise ProtocolError(404, f"no model named {name!r:.80}; this server serves {MODEL_NAME!r}")


def _as_version(failure: Unservable) -> ProtocolError:
    """`failure` in the protocol's words: an unknown model id is an unknown version."""
    if failure.reason is Reason.UNKNOWN:
        return ProtocolError(404, f"no version {failure.model_id!r} of model {MODEL_NAME!r}")
    return failure


def _model(name: str, version: str | None) -> TrainedModel:
    """The model a path names: 404 for another name or an unknown version, 409 if none yet."""
    _check_name(name)
    try:
        return pick_model(services().models, version)
    except Unservable as failure:
        raise _as_version(failure) from None


def _check(name: str, version: str | None) -> None:
    """404 unless the path names this model and, with a version, a stored model id (409 if it
    is known to be corrupt); one lookup, nothing loaded."""
    _check_name(name)
    if version is not None:
        try:
            check_model(services().store, version)
        except Unservable as failure:
            raise _as_version(failure) from None


def _metadata(name: str, version: str | None) -> dict:
    """The metadata (known before the first model), its versions the repository's READY ones."""
    _check(name, version)
    return model_metadata([item["version"] for item in _repository() if item["state"] == "READY"])


#: Versions the metadata and the repository index list: the newest models (one page).
LISTED_VERSIONS = 1000


def _repository() -> list[dict]:
    """The newest stored models as versions of `nnservice`: READY, or UNAVAILABLE with the
    reason (at most LISTED_VERSIONS; any older model still answers by its id)."""
    return [
        {
            "name": MODEL_NAME,
            "version": model.id,
            "state": "READY" if model.status == "ok" else "UNAVAILABLE",
            "reason": "" if model.status == "ok" else str(model.error or ""),
        }
        for model in services().store.models.list(limit=LISTED_VERSIONS).items
    ]


def _ready(name: str, version: str | None) -> tuple[dict, int]:
    try:
        _model(name, version)
    except ProtocolError as exc:
        if not isinstance(exc, Unservable):
            raise  # another model name, or an unknown version: 404
        return {"name": name, "ready": False}, 400  # none yet, corrupt, or unreachable
    return {"name": name, "ready": True}, 200


def _infer(name: str, version: str | None, binary_form: bool = False) -> Response:
    """Answer an inference request; `binary_form`: the binary operation, which needs the
    JSON's length header (the infer path takes either form)."""
    model = _model(name, version)
    header_length = request.headers.get(v2_binary.HEADER)
    if binary_form and header_length is None:
        raise ProtocolError(400, f"the binary form needs the {v2_binary.HEADER} header")
    parsed = parse_infer_request(
        request.get_data(), header_length, services().settings.max_predict_rows
    )
    request_id = parsed.request_id or current_request_id() or ""
    answer, binary = infer_response(
        model.model_id, probabilities(model, parsed.X), parsed.outputs, request_id
    )
    if not binary:
        return json_response(answer)
    head = json_response(answer).get_data()
    return Response(
        head + binary,
        content_type=v2_binary.CONTENT_TYPE,
        headers={v2_binary.HEADER: str(len(head))},
    )


@blp.route("/health/live", methods=["GET"])
@blp.response(200, V2LiveSchema)
def live():
    """Server live: the API process answers."""
    return {"live": True}


@blp.route("/health/ready", methods=["GET"])
@blp.response(200, V2ReadySchema)
@blp.alt_response(400, schema=V2ReadySchema, description="Not ready: no model to serve yet.")
def ready():
    """Server ready: a model can be served (training needs more: see GET /readyz)."""
    body, status = _ready(MODEL_NAME, None)
    return {"ready": body["ready"]}, status


@blp.route("", methods=["GET"])
@blp.response(200, V2ServerMetadataSchema)
@blp.alt_response(401, schema=V2ErrorSchema, description="An API key is needed.")
def server_metadata():
    """Server metadata: name, version, extensions (binary tensor data)."""
    version = current_app.config["API_VERSION"]
    return {"name": "nnservice", "version": version, "extensions": [v2_binary.EXTENSION]}


#: The errors of every path naming the model, besides 404 (NOT_FOUND).
MODEL_PATH_ERRORS = (
    (401, "An API key is needed."),
    (409, "No model has been trained yet, or the version's file is corrupt."),
    (503, "The store's database or object store is unreachable."),
)


def _errors(*more: tuple[int, str]):
    """Document the errors of a model path (and `more`), in the protocol's shape."""

    def document(view):
        for status, description in (*MODEL_PATH_ERRORS, *more):
            view = blp.alt_response(status, schema=V2ErrorSchema, description=description)(view)
        return blp.alt_response(404, schema=V2ErrorSchema, description="No such model or version.")(
            view
        )

    return document


@blp.route(MODEL, methods=["GET"], parameters=NAME)
@blp.response(200, V2ModelMetadataSchema)
@_errors()
def model_metadata_latest(name: str):
    """Model metadata: inputs [-1, 2], outputs [-1, 1], versions (the model ids)."""
    return _metadata(name, None)


@blp.route(VERSION, methods=["GET"], parameters=NAME)
@blp.response(200, V2ModelMetadataSchema)
@_errors()
def model_metadata_version(name: str, version: str):
    """Model metadata of one version (model id)."""
    return _metadata(name, version)


@blp.route(f"{MODEL}/ready", methods=["GET"], parameters=NAME)
@blp.response(200, V2ModelReadySchema)
@blp.alt_response(400, schema=V2ModelReadySchema, description="Not ready: no model yet.")
@_errors()
def model_ready_latest(name: str):
    """Model ready: the latest model can be served."""
    return _ready(name, None)


@blp.route(f"{VERSION}/ready", methods=["GET"], parameters=NAME)
@blp.response(200, V2ModelReadySchema)
@blp.alt_response(400, schema=V2ModelReadySchema, description="Not ready.")
@_errors()
def model_ready_version(name: str, version: str):
    """Model ready: this version (model id) can be served."""
    return _ready(name, version)


INFER_ERRORS = (
    (400, "Not an inference request for this model (the message says why)."),
    (413, "The body is too large."),
)


@blp.route(f"{MODEL}/infer", methods=["POST"], parameters=NAME)
@blp.doc(requestBody=V2_INFER_BODY, responses={200: V2_INFER_RESPONSE})
@blp.response(200, V2InferResponseSchema)
@_errors(*INFER_ERRORS)
def infer_latest(name: str):
    """Inference with the latest model."""
    return _infer(name, None)


@blp.route(f"{VERSION}/infer", methods=["POST"], parameters=NAME)
@blp.doc(requestBody=V2_INFER_BODY, responses={200: V2_INFER_RESPONSE})
@blp.response(200, V2InferResponseSchema)
@_errors(*INFER_ERRORS)
def infer_version(name: str, version: str):
    """Inference with one version (model id)."""
    return _infer(name, version)


@blp.route(f"{MODEL}/infer/binary", methods=["POST"], parameters=[*NAME, V2_INFER_BINARY_HEADER])
@blp.doc(requestBody=V2_INFER_BINARY_BODY, responses={200: V2_INFER_RESPONSE})
@blp.response(200, V2InferResponseSchema)
@_errors(*INFER_ERRORS)
def infer_binary_latest(name: str):
    """Inference with the latest model, the input as binary tensor data (the same as the infer
    path with binary data, as Triton's clients send it; here as its own operation)."""
    return _infer(name, None, binary_form=True)


@blp.route(f"{VERSION}/infer/binary", methods=["POST"], parameters=[*NAME, V2_INFER_BINARY_HEADER])
@blp.doc(requestBody=V2_INFER_BINARY_BODY, responses={200: V2_INFER_RESPONSE})
@blp.response(200, V2InferResponseSchema)
@_errors(*INFER_ERRORS)
def infer_binary_version(name: str, version: str):
    """Inference with one version (model id), the input as binary tensor data."""
    return _infer(name, version, binary_form=True)


@blp.route(f"{MODEL}/config", methods=["GET"], parameters=NAME)
@blp.response(200, V2ModelConfigSchema)
@_errors()
def model_config_latest(name: str):
    """Model configuration, as Triton answers it (tritonclient's get_model_config)."""
    _check(name, None)
    return model_config()


@blp.route(f"{VERSION}/config", methods=["GET"], parameters=NAME)
@blp.response(200, V2ModelConfigSchema)
@_errors()
def model_config_version(name: str, version: str):
    """Model configuration of one version (model id): the same for every version."""
    _check(name, version)
    return model_config()


#: The URL rules whose requests the statistics count.
INFER_RULES = {
    f"{blp.url_prefix}{path}{form}"
    for path in (MODEL, VERSION)
    for form in ("/infer", "/infer/binary")
}


def _statistics(version: str) -> dict:
    """Triton's statistics of the inference requests, over every API process and version."""
    totals = request_totals(INFER_RULES)
    (ok, ok_seconds), (failed, failed_seconds) = totals["ok"], totals["failed"]
    zero = {"count": 0, "ns": 0}
    return {
        "model_stats": [
            {
                "name": MODEL_NAME,
                "version": version,
                "last_inference": 0,
                "inference_count": ok,
                "execution_count": ok,
                "inference_stats": {
                    "success": {"count": ok, "ns": round(ok_seconds * 1e9)},
                    "fail": {"count": failed, "ns": round(failed_seconds * 1e9)},
                    **dict.fromkeys(
                        ("queue", "compute_input", "compute_infer", "compute_output"), zero
                    ),
                },
                "batch_stats": [],
            }
        ]
    }


@blp.route("/models/stats", methods=["GET"])
@blp.response(200, V2StatisticsSchema)
@blp.alt_response(401, schema=V2ErrorSchema, description="An API key is needed.")
def statistics():
    """Inference statistics of every model (tritonclient's get_inference_statistics)."""
    return _statistics("")


@blp.route(f"{MODEL}/stats", methods=["GET"], parameters=NAME)
@blp.response(200, V2StatisticsSchema)
@_errors()
def model_statistics(name: str):
    """Inference statistics of the model (all versions together)."""
    _check(name, None)
    return _statistics("")


@blp.route(f"{VERSION}/stats", methods=["GET"], parameters=NAME)
@blp.response(200, V2StatisticsSchema)
@_errors()
def model_statistics_version(name: str, version: str):
    """Inference statistics, named for one version but counted over all versions."""
    _check(name, version)
    return _statistics(version)


@blp.route("/repository/index", methods=["POST"])
@blp.doc(requestBody=V2_REPOSITORY_INDEX_BODY)
@blp.response(200, V2RepositoryModelSchema(many=True))
@blp.alt_response(400, schema=V2ErrorSchema, description='The body is not {} or {"ready": bool}.')
@blp.alt_response(401, schema=V2ErrorSchema, description="An API key is needed.")
def repository_index():
    """The model repository: every stored model id as a version, READY or UNAVAILABLE."""
    body = request.get_data()
    try:
        ready_only = _ready_filter(loads_json(body) if body else {})
    except (ValueError, RecursionError):
        raise ProtocolError(400, "the body must be empty or a JSON object") from None
    index = _repository()
    return [item for item in index if item["state"] == "READY"] if ready_only else index


def _ready_filter(body: object) -> bool:
    if not isinstance(body, dict) or type(body.get("ready", False)) is not bool:
        raise ProtocolError(400, 'the body must be empty or {"ready": true or false}')
    return body.get("ready", False)
