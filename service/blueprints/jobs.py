"""GET /jobs, GET /jobs/{id}, POST /jobs/{id}/cancel, DELETE /jobs/{id} (cancel, or purge a
finished job's record)."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from service.api import Blueprint, ErrorSchema
from service.context import services
from service.paging import page_response
from service.schemas.jobs import JobDeleteQuerySchema, JobSchema
from service.schemas.paging import PAGE_HEADERS, JobListQuerySchema
from service.training import cancel_job, purge_job

blp = Blueprint("jobs", __name__, url_prefix="/jobs", description="Training jobs.")


@blp.route("")
class Jobs(MethodView):
    @blp.arguments(JobListQuerySchema(), location="query")
    @blp.response(200, JobSchema(many=True), headers=PAGE_HEADERS)
    def get(self, query: dict):
        """Jobs, newest first, a page at a time; filter by `state` and `dataset_id`."""
        return page_response(
            services().store.jobs.list(
                query["limit"],
                query["page_token"],
                state=query["state"],
                dataset_id=query["dataset_id"],
            )
        )


@blp.route("/<id:job_id>")
class Job(MethodView):
    @blp.response(200, JobSchema)
    def get(self, job_id: str):
        """A job's state, progress, loss history, model and metrics."""
        return services().store.jobs.get(job_id)

    @blp.arguments(JobDeleteQuerySchema(), location="query")
    @blp.response(200, JobSchema, description="Was queued: now cancelled.")
    @blp.alt_response(
        202, schema=JobSchema, description="Running: stops within one epoch.", success=True
    )
    @blp.alt_response(204, description="purge=true: the finished job's record is removed.")
    @blp.alt_response(
        409,
        description="Already finished (cancel), or not finished yet (purge=true).",
        schema=ErrorSchema,
    )
    def delete(self, query: dict, job_id: str):
        """Cancel a queued or running job (as POST /jobs/{id}/cancel); with `purge=true`,
        remove a finished job's record and checkpoint instead (its model stays)."""
        if query["purge"]:
            purge_job(services(), job_id)
            return Response(status=204)
        return cancel_job(services(), job_id)


@blp.route("/<id:job_id>/cancel", methods=["POST"])
@blp.response(200, JobSchema, description="Was queued: now cancelled.")
@blp.alt_response(
    202, schema=JobSchema, description="Running: stops within one epoch.", success=True
)
@blp.alt_response(409, description="Already finished.", schema=ErrorSchema)
def cancel(job_id: str):
    """Cancel a queued (200) or running (202) job; no model is saved. 409 once it has ended."""
    return cancel_job(services(), job_id)
