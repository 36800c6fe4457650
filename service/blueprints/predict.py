"""POST /predict: gender probabilities from the latest (or a chosen) model. Never uses Redis."""

from __future__ import annotations

from service.api import Blueprint, ErrorSchema, json_response
from service.context import services
from service.prediction import predict as run_prediction
from service.schemas.predict import PredictRequestSchema, PredictResponseSchema

blp = Blueprint("predict", __name__, description="Predictions.")


@blp.route("/predict", methods=["POST"])
@blp.arguments(PredictRequestSchema())
@blp.response(200, PredictResponseSchema)
@blp.alt_response(404, description="No model with this model_id.", schema=ErrorSchema)
@blp.alt_response(
    409,
    description="No model has been trained yet, or model_id's file is corrupt.",
    schema=ErrorSchema,
)
@blp.alt_response(
    503,
    description="This process has no model loaded yet and the store's database or object store "
    "is unreachable (named in `errors`).",
    schema=ErrorSchema,
)
def predict(data: dict):
    """Predict F/M for one person (weight, height) or up to 10,000 `instances` (objects or
    [weight, height] pairs) or `inputs` (columns); pairs and columns are answered in columns."""
    answer = run_prediction(
        services().models, data["X"], data["model_id"], data["explain"], data["compact"]
    )
    return json_response(answer)  # built directly: 10,000 rows through marshmallow are slow
