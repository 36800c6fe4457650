"""GET /events: its query (`types`, `last_event_id`), its `Last-Event-ID` header, and one event
as the stream sends it (for the OpenAPI document)."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

from foundation.events import EVENT_TYPES, RECONNECT, RESET

ALLOWED = ", ".join(EVENT_TYPES)
_ONE_TYPE = "(?:{})".format("|".join(EVENT_TYPES))
#: What `types` looks like: event types separated by commas (no spaces).
TYPES_PATTERN = re.compile(f"{_ONE_TYPE}(?:,{_ONE_TYPE})*")
#: The largest event id a client may name (ids are 64-bit).
MAX_EVENT_ID = 2**63 - 1


class EventTypesField(ma.fields.String):
    """A comma-separated list of event types, loaded as a frozenset; an unknown one is refused,
    naming the allowed ones."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": f"^{TYPES_PATTERN.pattern}$", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if TYPES_PATTERN.fullmatch(text) is None:
            unknown = [name for name in text.split(",") if name not in EVENT_TYPES]
            what = "Unknown event type " + ", ".join(map(repr, unknown)) if unknown else "Invalid"
            raise ma.ValidationError(
                f"{what}; expected event types separated by commas, of: {ALLOWED}."
            )
        return frozenset(text.split(","))


def _event_id(description: str, **kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(
        validate=ma.validate.Range(0, MAX_EVENT_ID),
        metadata={"description": description},
        **kwargs,
    )


class EventsQuerySchema(ma.Schema):
    """Both optional: a parameter left out is absent from what is loaded."""

    types = EventTypesField(
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
