"""GET /jobs/{id}/events: a training job's progress as Server-Sent Events."""

from __future__ import annotations

from flask import Response, request

from service.api import Blueprint, ErrorSchema
from service.context import services
from service.job_events import job_events, stream_seconds

blp = Blueprint(
    "events", __name__, description="Live progress of training jobs (Server-Sent Events)."
)

_EXAMPLE = (
    "retry: 2000\n\n"
    "event: progress\nid: 1\n"
    'data: {"job_id":"9f...","state":"running","epoch":120,"epochs":1000,'
    '"loss":0.0412,"validation_loss":0.0533}\n\n'
    ": heartbeat\n\n"
    "event: end\nid: 3\n"
    'data: {"job_id":"9f...","state":"succeeded","epoch":1000,"epochs":1000,"loss":0.0011,'
    '"validation_loss":0.0021,"model_id":"m-9f...","metrics":{"train_accuracy":1.0,'
    '"validation_accuracy":1.0},"error":null,"finished_at":"2026-11-25T08:00:01.000000Z"}\n\n'
)
_DESCRIPTION = (
    "`text/event-stream`. `progress` events (state, epoch, epochs, loss, validation_loss) each "
    "time the job's record changes, the first at once; a `: heartbeat` comment every 15 s; then "
    "`end` with the final state, model_id, metrics and error, and the stream closes. A stream "
    "lasts at most NNSERVICE_EVENTS_MAX_SECONDS (25 s on single-threaded API workers): it then "
    "sends `reconnect` and closes, and the client opens a new one."
)


#: One event of the stream (OpenAPI 3.0 has no itemSchema, so `schema` describes each event).
_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["progress", "end", "reconnect"]},
        "id": {"type": "string"},
        "data": {"type": "string", "description": "A JSON object (see the example)."},
        "retry": {"type": "integer", "minimum": 0},
    },
    "required": ["event", "data"],
}


@blp.route("/jobs/<id:job_id>/events", methods=["GET"])
@blp.response(
    200,
    _EVENT_SCHEMA,
    content_type="text/event-stream",
    description=_DESCRIPTION,
    example=_EXAMPLE,
)
@blp.alt_response(404, schema=ErrorSchema, description="No such job.")
def job_event_stream(job_id: str) -> Response:
    """Follow a training job live: progress events until it ends."""
    store, follower = services().store, services().job_follower
    store.jobs.get(job_id)  # an unknown job is a 404 in the usual shape, before any streaming
    max_seconds = stream_seconds(
        services().settings.events_max_seconds, bool(request.environ.get("wsgi.multithread"))
    )
    return Response(
        job_events(store, job_id, max_seconds=max_seconds, follower=follower),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
