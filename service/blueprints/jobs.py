"""GET /jobs, GET /jobs/{id}, DELETE /jobs/{id} (cancel)."""

from __future__ import annotations

from flask.views import MethodView

from service.api import Blueprint, ErrorSchema
from service.context import services
from service.paging import page_response
from service.schemas.jobs import JobSchema
from service.schemas.paging import PAGE_HEADERS, JobListQuerySchema
from service.training import cancel_job

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

    @blp.response(200, JobSchema, description="Was queued: now cancelled.")
    @blp.alt_response(
        202, schema=JobSchema, description="Running: stops within one epoch.", success=True
    )
    @blp.alt_response(409, description="Already finished.", schema=ErrorSchema)
    def delete(self, job_id: str):
        """Cancel a queued or running job; no model is saved."""
        return cancel_job(services(), job_id)
