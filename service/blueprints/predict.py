"""POST /predict: gender probabilities from the latest (or a chosen) model. Never uses Redis."""

from __future__ import annotations

from service.api import Blueprint, ErrorSchema, json_response
from service.context import services
from service.prediction import predict as run_prediction
from service.schemas.predict import PredictRequestSchema, PredictResponseSchema

blp = Blueprint("predict", __name__, description="Predictions.")


@blp.route("/predict", methods=["POST"])
@blp.arguments(PredictRequestSchema)
@blp.response(200, PredictResponseSchema)
@blp.alt_response(409, description="No model has been trained yet.", schema=ErrorSchema)
def predict(data: dict):
    """Predict F/M for one person (weight, height) or up to 10,000 `instances`."""
    return json_response(run_prediction(services().models, data["X"], data["model_id"]))
