"""POST /train: queue a training job and answer at once (202) with where to follow it."""

from __future__ import annotations

from flask import url_for

from service.api import Blueprint, ErrorSchema
from service.context import services
from service.schemas.train import TrainAcceptedSchema, TrainRequestSchema
from service.training import submit_training

blp = Blueprint("train", __name__, description="Start training jobs.")


@blp.route("/train", methods=["POST"])
@blp.arguments(TrainRequestSchema())
@blp.response(202, TrainAcceptedSchema, description="Queued; poll status_url (also Location).")
@blp.alt_response(404, schema=ErrorSchema, description="dataset_id or initial_model_id unknown.")
@blp.alt_response(409, schema=ErrorSchema, description="The initial model's file is corrupt.")
@blp.alt_response(503, schema=ErrorSchema, description="The task queue (Redis) is unreachable.")
def train(data: dict):
    """Train a network on a dataset (by id or inline rows); 503 if the queue is unreachable.

    epochs x rows may not exceed NNSERVICE_JOB_BUDGET (default 10^9).
    """
    record = submit_training(services(), data)
    status_url = url_for("jobs.Job", job_id=record.id)
    return {"job_id": record.id, "status_url": status_url}, 202, {"Location": status_url}
