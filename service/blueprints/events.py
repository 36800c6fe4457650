"""Server-Sent Events: GET /jobs/{id}/events (a training job's progress) and GET /events (the
registry's changes)."""

from __future__ import annotations

from flask import Response, request

from service.api import Blueprint, ErrorSchema
from service.context import services
from service.job_events import job_events, stream_seconds
from service.registry_events import newest_event_id, registry_events
from service.schemas.events import EVENT_SCHEMA, EventsHeaderSchema, EventsQuerySchema

blp = Blueprint(
    "events",
    __name__,
    description="Live progress of training jobs, and the registry's changes (Server-Sent Events).",
)
#: The headers of every event stream: never cached, never buffered by a proxy.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

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


#: One event of a job's stream (OpenAPI 3.0 has no itemSchema, so `schema` describes each event).
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
        headers=STREAM_HEADERS,
    )


_REGISTRY_EXAMPLE = (
    "retry: 2000\n\n"
    "id: 41\nevent: model_created\n"
    'data: {"id":41,"type":"model_created","at":"2026-12-06T21:00:00.000000Z",'
    '"model_id":"m-9f...","dataset_id":"ds-139bffea2118d9e8bbdff553","job_id":"9f..."}\n\n'
    "id: 42\nevent: alias_changed\n"
    'data: {"id":42,"type":"alias_changed","at":"2026-12-06T21:00:00.000100Z",'
    '"alias":"latest","model_id":"m-9f...","split":null,"changed_by":"job 9f..."}\n\n'
    "id: 43\nevent: job_state\n"
    'data: {"id":43,"type":"job_state","at":"2026-12-06T21:00:00.000200Z","job_id":"9f...",'
    '"state":"succeeded","model_id":"m-9f...","promotion":{"promoted":true,"alias":"latest"}}'
    "\n\n"
    "id: 44\nevent: sweep_state\n"
    'data: {"id":44,"type":"sweep_state","at":"2026-12-06T21:00:00.000300Z","sweep_id":"sw-4e...",'
    '"state":"succeeded","metric":"validation_loss","best_job_id":"sw-4e...-2",'
    '"model_id":"m-sw-4e...-2","value":0.0213,"promotion":null}'
    "\n\n"
    ": heartbeat\n\n"
)
_REGISTRY_DESCRIPTION = (
    "`text/event-stream`: every change of the registry, in the order it committed, each as "
    "`id: <event id>`, `event: <type>` and `data: {id, type, at, ...}`. The types and their "
    "fields: `model_created` {model_id, dataset_id, job_id}, `model_deleted` {model_id}, "
    "`dataset_created` {dataset_id}, `dataset_deleted` {dataset_id}, `alias_changed` {alias, "
    "model_id, split, changed_by} (model_id and split null: the alias was removed), "
    "`job_state` {job_id, state, model_id, promotion} (each change of a job's state), "
    "`sweep_state` {sweep_id, state, metric, best_job_id, model_id, value, promotion} (a sweep "
    "created, running, and its end: the best trial's job, model and metric value, the gate's "
    "decision; null until then). The "
    "stream starts after `Last-Event-ID` (or `last_event_id`; 0: from the oldest kept event), "
    "else after the newest event. Events older than NNSERVICE_EVENTS_RETENTION_SECONDS are "
    "pruned: resuming from before the oldest kept one sends one `reset` event "
    "({oldest_id}) and goes on from there. A `: heartbeat` comment every 15 s; after "
    "NNSERVICE_EVENTS_MAX_SECONDS (25 s on single-threaded API workers) a `reconnect` event "
    "({reason, last_event_id}) and the stream closes: reconnect with Last-Event-ID."
)


@blp.route("/events", methods=["GET"])
@blp.arguments(EventsQuerySchema(), location="query")
@blp.arguments(EventsHeaderSchema(), location="headers")
@blp.response(
    200,
    EVENT_SCHEMA,
    content_type="text/event-stream",
    description=_REGISTRY_DESCRIPTION,
    example=_REGISTRY_EXAMPLE,
)
def registry_event_stream(query: dict, headers: dict) -> Response:
    """Follow the registry: models, datasets, aliases, job and sweep states as they change."""
    svc = services()
    last_event_id = headers.get("last_event_id", query.get("last_event_id"))
    if last_event_id is None:
        last_event_id = newest_event_id(svc.store, svc.event_tail)
    max_seconds = stream_seconds(
        svc.settings.events_max_seconds, bool(request.environ.get("wsgi.multithread"))
    )
    stream = registry_events(
        svc.store,
        svc.event_tail,
        last_event_id=last_event_id,
        types=query.get("types"),
        max_seconds=max_seconds,
    )
    return Response(stream, mimetype="text/event-stream", headers=STREAM_HEADERS)
