"""The kinds of registry events, defined once: the store writes them, `GET /events` streams and
filters them, and the command line and the dashboard name them."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """What changed in the registry; each event's data holds the fields named here.

    A `StrEnum`, so each member is the very string stored in the events table and sent as the
    Server-Sent Event's `event:` name.
    """

    MODEL_CREATED = "model_created"  # model_id, dataset_id, job_id
    MODEL_DELETED = "model_deleted"  # model_id
    DATASET_CREATED = "dataset_created"  # dataset_id
    DATASET_DELETED = "dataset_deleted"  # dataset_id
    ALIAS_CHANGED = "alias_changed"  # alias, model_id, split (both null once removed), changed_by
    JOB_STATE = "job_state"  # job_id, state, model_id, promotion
    #: Created `running`, then once at its end; best_job_id, model_id and value (by `metric`) are
    #: the best trial's, promotion the gate's decision (all null until the sweep has ended).
    SWEEP_STATE = "sweep_state"  # sweep_id, state, metric, best_job_id, model_id, value, promotion


#: Every kind of event, in the order above (what `?types=` accepts).
EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)
#: The stream's own messages, which are not registry events: a gap in the history was pruned
#: (`reset`), the stream's time is up (`reconnect`).
RESET = "reset"
RECONNECT = "reconnect"
