"""POST /predict: gender probabilities from the latest (or a chosen) model. Never uses Redis.

The hot path of the service, so its view is a plain flask-smorest route: it loads its body itself
(`parse_json_body`, the same 415/400/422 answers as `@blp.arguments`) and states its request body
and answers with `@blp.doc`, the same OpenAPI document, without the wrapper that each of
flask-smorest's and webargs' decorators puts around the view on every request.
"""

from __future__ import annotations

import marshmallow as ma

from service.api import Blueprint, ErrorSchema, json_request_body, json_response, parse_json_body
from service.context import services
from service.prediction import predict as run_prediction
from service.schemas.predict import PredictRequestSchema, PredictResponseSchema

blp = Blueprint("predict", __name__, description="Predictions.")

#: Loads and checks each request's body (built once: a schema is stateless between loads).
REQUEST = PredictRequestSchema()
#: The answers of POST /predict besides the ones of every body-taking operation
#: (`service.openapi_errors`).
ERRORS = {
    404: "No model with this model_id, or no alias of this name.",
    409: "No model has been trained yet, or model_id's file is corrupt.",
    503: "This process has no model loaded yet and the store's database or object store "
    "is unreachable (named in `errors`).",
}


def _answer(description: str, schema: type[ma.Schema]) -> dict:
    """An OpenAPI response: a JSON body of `schema` (a registered component)."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@blp.route("/predict", methods=["POST"])
@blp.doc(
    requestBody=json_request_body("PredictRequest"),
    responses={
        200: _answer("OK", PredictResponseSchema),
        **{status: _answer(text, ErrorSchema) for status, text in ERRORS.items()},
    },
)
def predict():
    """Predict F/M for one person (weight, height) or up to 10,000 `instances` (objects or
    [weight, height] pairs) or `inputs` (columns); pairs and columns are answered in columns.
    The latest model answers, or a `model_id`'s, or an `alias`'s (a split alias picks by
    weight, or by `routing_key`)."""
    data = parse_json_body(REQUEST)
    answer = run_prediction(
        services().models,
        data["X"],
        data["model_id"],
        data["explain"],
        data["compact"],
        alias=data["alias"],
        routing_key=data["routing_key"],
    )
    return json_response(answer)  # built directly: 10,000 rows through marshmallow are slow
