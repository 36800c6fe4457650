"""POST /sweeps, GET /sweeps, GET /sweeps/{id}, POST /sweeps/{id}/cancel."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from service.api import Blueprint, ErrorSchema
from service.context import services
from service.paging import page_response
from service.schemas.paging import PAGE_HEADERS, SweepListQuerySchema
from service.schemas.sweeps import (
    SweepAcceptedSchema,
    SweepRequestSchema,
    SweepSchema,
    SweepSummarySchema,
)
from service.sweeps import cancel_sweep, submit_sweep, summary, sweep_body

blp = Blueprint(
    "sweeps",
    __name__,
    url_prefix="/sweeps",
    description="Hyperparameter sweeps: many training jobs over a grid or a search space.",
)


@blp.route("")
class Sweeps(MethodView):
    @blp.arguments(SweepListQuerySchema(), location="query")
    @blp.response(200, SweepSummarySchema(many=True), headers=PAGE_HEADERS)
    def get(self, query: dict):
        """Sweeps, newest first, a page at a time; filter by `state`."""
        page = services().store.sweeps.list(
            query["limit"], query["page_token"], state=query["state"]
        )
        items, status, headers = page_response(page)
        return [summary(each) for each in items], status, headers

    @blp.arguments(SweepRequestSchema())
    @blp.response(202, SweepAcceptedSchema, description="Started; poll status_url (also Location).")
    @blp.alt_response(404, schema=ErrorSchema, description="dataset_id unknown.")
    @blp.alt_response(503, schema=ErrorSchema, description="The task queue (Redis) is unreachable.")
    def post(self, data: dict):
        """Start a sweep: every grid combination, or `search.trials` trials drawn by a sampler
        (`parallel` at a time), each an ordinary training job; ranked by `metric`, and the best
        model promoted through the gate if `promote` asks."""
        sweep, job_ids = submit_sweep(services(), data)
        status_url = url_for("sweeps.Sweep", sweep_id=sweep.id)
        body = {"sweep_id": sweep.id, "job_ids": job_ids, "status_url": status_url}
        return body, 202, {"Location": status_url}


@blp.route("/<id:sweep_id>")
class Sweep(MethodView):
    @blp.response(200, SweepSchema)
    def get(self, sweep_id: str):
        """A sweep: its state, every trial ranked by the metric, the best trial and its model."""
        return sweep_body(services(), sweep_id)


@blp.route("/<id:sweep_id>/cancel", methods=["POST"])
@blp.response(200, SweepSchema, description="Ended: no trial was running.")
@blp.alt_response(
    202, schema=SweepSchema, description="Running trials stop within one epoch.", success=True
)
@blp.alt_response(409, description="Already ended.", schema=ErrorSchema)
def cancel(sweep_id: str):
    """Cancel a sweep: no new trials, unfinished ones cancelled; finished ones stay ranked."""
    return cancel_sweep(services(), sweep_id)
