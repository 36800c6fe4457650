"""The MLflow scoring protocol, as `mlflow models serve` answers it: POST /invocations, GET /ping,
GET /health, GET /version. Same models and predict path as POST /predict (the latest model);
values in lb and in. Errors are MLflow's `{"error_code", "message"}`.
"""

from __future__ import annotations

from flask import Response, current_app, request

from service.api import Blueprint, json_response, loads_json
from service.context import services
from service.mlflow_scoring import rows_from_csv, rows_from_json
from service.prediction import probabilities
from service.protocol_errors import ProtocolError, answer_errors_in_shape
from service.protocol_input import features
from service.schemas.protocols import (
    MLFLOW_REQUEST_BODY,
    MlflowErrorSchema,
    MlflowPingSchema,
    MlflowPredictionsSchema,
)
from service.serving_errors import Reason, Unservable, pick_model

#: The 503 of every endpoint that serves the latest model.
UNREACHABLE = "The store's database or object store is unreachable (no model loaded yet)."

blp = Blueprint(
    "mlflow",
    __name__,
    description="MLflow scoring protocol (`mlflow models serve`): clients of an MLflow model "
    "server work unchanged. Predictions are the probability of female, one a row.",
)

#: MLflow's error codes for the statuses these endpoints answer.
ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "INVALID_STATE",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}
CONTENT_TYPES = ("application/json", "text/csv")
#: What MLflow's server adds to a 415 for a content type parameter it no longer reads.
PROTOCOL_CHANGE = (
    "The scoring protocol of MLflow 2 and later takes a JSON object with one of the keys "
    "dataframe_split, dataframe_records, instances or inputs, without format parameters."
)


def mlflow_error(status: int, message: str, code: str | None = None) -> Response:
    """An error in MLflow's shape (the code: `code`, else the status's usual one)."""
    code = code or ERROR_CODES.get(status, "BAD_REQUEST")
    return json_response({"error_code": code, "message": message}, status)


answer_errors_in_shape(blp, mlflow_error)


def _check_content_type() -> None:
    """415 as MLflow's server answers it: a charset other than UTF-8, a parameter other than
    charset (MLflow 1.x's `format=pandas-records`, ...), a type other than JSON or CSV."""
    if request.mimetype_params.get("charset", "utf-8").lower() != "utf-8":
        raise ProtocolError(415, "The scoring server only supports UTF-8")
    unexpected = sorted(set(request.mimetype_params) - {"charset"})
    if unexpected:
        message = f"Unrecognized content type parameters: {', '.join(unexpected):.80}."
        raise ProtocolError(415, f"{message} {PROTOCOL_CHANGE}")
    if request.mimetype not in CONTENT_TYPES:
        message = f"This predictor only supports the content types {list(CONTENT_TYPES)}."
        raise ProtocolError(415, f"{message} Got {request.content_type!r:.80}.")


def _rows() -> list:
    """The request's rows, by content type (JSON or CSV, UTF-8)."""
    _check_content_type()
    try:
        text = request.get_data().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(400, f"the body is not UTF-8: {exc}") from None
    if request.mimetype == "text/csv":
        return rows_from_csv(text)
    try:
        body = loads_json(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(400, f"Failed to parse input as JSON: {exc}") from None
    return rows_from_json(body)


@blp.route("/invocations", methods=["POST"])
@blp.doc(requestBody=MLFLOW_REQUEST_BODY)
@blp.response(200, MlflowPredictionsSchema)
@blp.alt_response(
    400,
    schema=MlflowErrorSchema,
    description="Not one of the input formats (BAD_REQUEST), a missing weight or height column "
    "(INVALID_PARAMETER_VALUE), or a value that is no number in range (BAD_REQUEST).",
)
@blp.alt_response(401, schema=MlflowErrorSchema, description="An API key is needed.")
@blp.alt_response(409, schema=MlflowErrorSchema, description="No model has been trained yet.")
@blp.alt_response(503, schema=MlflowErrorSchema, description=UNREACHABLE)
@blp.alt_response(413, schema=MlflowErrorSchema, description="The body is too large.")
@blp.alt_response(
    415,
    schema=MlflowErrorSchema,
    description="Not JSON or CSV, not UTF-8, or a content type parameter other than charset.",
)
def invocations():
    """Score rows with the latest model: `{"predictions": [probability of female, ...]}`."""
    X = features(_rows(), services().settings.max_predict_rows)
    model = pick_model(services().models, None)
    predictions = probabilities(model, X).tolist()
    return json_response({"predictions": predictions}, headers={"X-Model-Id": model.model_id})


def _served() -> dict:
    """The health check's answer; MLflow's server answers 404 while it has no model to serve."""
    try:
        model = pick_model(services().models, None)
    except Unservable as failure:
        if failure.reason is Reason.UNREACHABLE:
            raise  # 503: a model may well be promoted, it cannot be read yet
        raise ProtocolError(404, failure.message) from None
    return {"status": "ok", "model_id": model.model_id}


@blp.route("/ping", methods=["GET"])
@blp.response(200, MlflowPingSchema)
@blp.alt_response(404, schema=MlflowErrorSchema, description="No model to serve yet.")
@blp.alt_response(503, schema=MlflowErrorSchema, description=UNREACHABLE)
def ping():
    """MLflow's health check: 200 when a model can be served, 404 before the first one, 503
    while the store is unreachable and this process has no model loaded yet."""
    return _served()


@blp.route("/health", methods=["GET"])
@blp.response(200, MlflowPingSchema)
@blp.alt_response(404, schema=MlflowErrorSchema, description="No model to serve yet.")
@blp.alt_response(503, schema=MlflowErrorSchema, description=UNREACHABLE)
def health():
    """The same as /ping."""
    return _served()


@blp.route("/version", methods=["GET"])
@blp.response(
    200,
    {"type": "string", "example": "0.1.0"},
    content_type="text/plain",
    description="The server's version, as plain text (MLflow's answers its own version).",
)
def version():
    """The version of the server (ScoringServerClient.get_version)."""
    return Response(current_app.config["API_VERSION"], mimetype="text/plain")
