"""POST /predict: gender probabilities from the latest (or a chosen) model. Never uses Redis."""

from __future__ import annotations

from service.api import (
    Blueprint,
    ErrorSchema,
    json_body,
    json_request_body,
    json_response,
    load_body,
    serve_undecorated,
)
from service.context import services
from service.predict_request import fast_single
from service.prediction import predict as run_prediction
from service.prediction import predict_person
from service.schemas.predict import PredictRequestSchema, PredictResponseSchema

blp = Blueprint("predict", __name__, description="Predictions.")
_SCHEMA = PredictRequestSchema()


@blp.route("/predict", methods=["POST"])
@blp.doc(requestBody=json_request_body("PredictRequest"))
@blp.response(200, PredictResponseSchema)
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
@blp.alt_response(404, description="No model with this model_id.", schema=ErrorSchema)
@blp.alt_response(
    409,
    description="No model has been trained yet, or model_id's file is corrupt.",
    schema=ErrorSchema,
)
def predict():
    """Predict F/M for one person (weight, height) or up to 10,000 `instances`."""
    body = json_body()
    person = fast_single(body)  # one well-formed person: no schema, no arrays
    if person is not None:
        return json_response(predict_person(services().models, person))
    data = load_body(_SCHEMA, body)
    answer = run_prediction(
        services().models, data["X"], data["model_id"], explain=data.get("explain", False)
    )
    return json_response(answer)


serve_undecorated(blp, predict)  # the hot path: no wrapper calls per request
