"""GET /events: its query (`types`, `last_event_id`), its `Last-Event-ID` header, and one event
as the stream sends it (for the OpenAPI document)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from foundation.events import EVENT_TYPES, RECONNECT, RESET

ALLOWED = ", ".join(EVENT_TYPES)
#: The largest event id a client may name (ids are 64-bit).
MAX_EVENT_ID = 2**63 - 1


class EventTypesField(ma.fields.String):
    """A comma-separated list of event types, loaded as a frozenset; an unknown one is refused,
    naming the allowed ones."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in EVENT_TYPES]
        if unknown or not names:
            given = ", ".join(repr(name) for name in unknown) or "none"
            raise ma.ValidationError(
                f"Unknown event type {given}; expected a comma-separated list of: {ALLOWED}."
            )
        return frozenset(names)


def _event_id(description: str, **kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(
        load_default=None,
        validate=ma.validate.Range(0, MAX_EVENT_ID),
        metadata={"description": description},
        **kwargs,
    )


class EventsQuerySchema(ma.Schema):
    types = EventTypesField(
        load_default=None,
        metadata={
            "description": f"Send only these kinds of events, comma-separated: {ALLOWED}. "
            "Default: all.",
            "example": "alias_changed,job_state",
        },
    )
    last_event_id = _event_id(
        "Resume after this event id (0: from the oldest kept event); for a first connection "
        "that cannot set the Last-Event-ID header (a browser's EventSource). The header wins "
        "when both are given. Without either, the stream starts after the newest event."
    )


class EventsHeaderSchema(ma.Schema):
    last_event_id = _event_id(
        "The id of the last event received: the stream resumes after it (an EventSource sends "
        "it when it reconnects).",
        data_key="Last-Event-ID",
    )


#: One message of the stream (OpenAPI 3.0 has no itemSchema, so this describes each event).
EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": [*EVENT_TYPES, RESET, RECONNECT]},
        "id": {
            "type": "string",
            "description": "The event's id (registry events only): increasing, in commit order.",
        },
        "data": {
            "type": "string",
            "description": 'A JSON object: {"id", "type", "at", ...the type\'s fields} (see the '
            'example); reset: {"oldest_id"}; reconnect: {"reason", "last_event_id"}.',
        },
        "retry": {"type": "integer", "minimum": 0},
    },
    "required": ["event", "data"],
}
