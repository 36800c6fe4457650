"""GET /metrics: Prometheus metrics of the API (all its processes) and of the store's jobs and
batch predictions."""

from __future__ import annotations

from flask import current_app
from prometheus_client import CONTENT_TYPE_LATEST

from service.api import Blueprint
from service.metrics import exposition

blp = Blueprint("metrics", __name__, description="Prometheus metrics.")

#: app.extensions key of the app's `service.store_metrics.StoreCollector`.
STORE_COLLECTOR = "nnservice.store_metrics"


@blp.route("/metrics", methods=["GET"])
@blp.response(
    200,
    {"type": "string"},
    content_type=CONTENT_TYPE_LATEST,
    description="Prometheus text format: nnservice_http_request_duration_seconds (its _count "
    "counts requests by endpoint, method and status), nnservice_predictions_total, "
    "nnservice_batch_rows_scored_total (rows scored by batch predictions), "
    "nnservice_training_jobs, nnservice_training_duration_seconds, nnservice_served_model_info.",
)
def metrics():
    """Requests by endpoint and status with latency, predictions by label, rows scored by
    batches, jobs by state, training durations, and the id of the model being served."""
    return exposition(current_app.extensions[STORE_COLLECTOR])
