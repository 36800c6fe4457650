"""The registry's events: written in the transaction of each change, read in id order.

Every change of the registry (a model or dataset created or deleted, an alias changed, a job's
state changed) calls `record_event` on the connection of its own transaction, as its last
statement: the change and its event commit together or not at all.

Readers follow the table by id (`EventTable.after`), so ids must commit in id order: a reader
that has seen id N must never later find a smaller one. SQLite serializes writers (one write
transaction at a time), so it holds already. PostgreSQL hands out sequence values at insert time
and transactions may commit in any order, so `record_event` first takes a transaction-level
advisory lock (`pg_advisory_xact_lock(EVENTS_LOCK_KEY)`, released at commit or rollback): event
writers queue for the moment between their insert and their commit. Registry writes are rare (a
few per training job), and the lock is taken at the end of the transaction, after its other
statements, so it is held only for the insert and the commit, and never while waiting for a row
lock (no deadlock with the deletions' and promotions' row locks).

Old events are pruned (`prune`): always a prefix of the ids, never the newest, so the kept events
are the ones after `oldest_id() - 1`, and an id is never used twice.
"""

from __future__ import annotations

import json
from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foundation.events import EventType
from model_store.records import Event, ModelChanges
from model_store.tables import events
from model_store.times import iso, now_us

#: pg_advisory_xact_lock key of the event writers (any constant; "nnev" in ASCII).
EVENTS_LOCK_KEY = 0x6E6E6576
#: The events that create or delete a model (`EventTable.model_changes_after`).
MODEL_EVENTS = (str(EventType.MODEL_CREATED), str(EventType.MODEL_DELETED))


def record_event(connection: sa.Connection, event_type: EventType, **data: object) -> None:
    """Insert one event in the transaction of `connection`, after its change (last statement)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(EVENTS_LOCK_KEY)))
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)
    connection.execute(events.insert().values(at=now_us(), type=str(event_type), data=text))


def _event(row: sa.Row) -> Event:
    return Event(id=row.id, type=row.type, at=iso(row.at), data=json.loads(row.data))


class EventTable:
    """Reads the events in id order and prunes the old ones."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def after(self, last_id: int, limit: int, types: Collection[str] | None = None) -> list[Event]:
        """Up to `limit` events with an id above `last_id`, oldest first (of `types` only, if
        given): `SELECT ... WHERE id > :last_id ORDER BY id LIMIT :limit`, on the primary key."""
        query = sa.select(events).where(events.c.id > last_id)
        if types is not None:
            query = query.where(events.c.type.in_(sorted(types)))
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(events.c.id).limit(limit)).all()
        return [_event(row) for row in rows]

    def newest_id(self) -> int:
        """The newest event's id (0 before any)."""
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)

    def oldest_id(self) -> int | None:
        """The oldest kept event's id (None before any)."""
        with self.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.min(events.c.id))).scalar()

    def model_changes_after(self, last_id: int) -> ModelChanges:
        """The models created or deleted after event `last_id`: what a process that keeps
        models in memory must forget, without asking for each of them.

        Three statements on the primary key, in this order so that none can miss an event: the
        newest id N, then the model events in (last_id, N] (`WHERE id > :last_id AND id <= :N
        AND type IN (...)`: a range of the primary key, only what changed since), then the
        oldest kept id (a prune that removed events after `last_id` before the second
        statement shows there, and the reader re-checks what it holds)."""
        with self.engine.connect() as connection:
            newest = int(connection.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)
            rows = connection.execute(
                sa.select(events.c.type, events.c.data)
                .where(
                    events.c.id > last_id,
                    events.c.id <= newest,
                    events.c.type.in_(MODEL_EVENTS),
                )
                .order_by(events.c.id)
            ).all()
            oldest = connection.execute(sa.select(sa.func.min(events.c.id))).scalar()
        exists = {}
        for row in rows:
            model_id = json.loads(row.data)["model_id"]
            exists.pop(model_id, None)  # keep the order of each id's last event
            exists[model_id] = row.type == EventType.MODEL_CREATED
        pruned = last_id > newest or (oldest is not None and last_id < oldest - 1)
        return ModelChanges(newest_id=newest, exists=exists, pruned=pruned)

    def prune(self, older_than_us: int) -> int:
        """Delete the events written before `older_than_us` (microseconds since the epoch), as
        one DELETE of a prefix of the ids: every id up to the newest such event's, except the
        newest event of all (it tells where the ids go on). Returns how many went."""
        newest = sa.select(sa.func.max(events.c.id)).scalar_subquery()
        last_old = (
            sa.select(sa.func.max(events.c.id)).where(events.c.at < older_than_us).scalar_subquery()
        )
        with self.engine.begin() as connection:
            deleted = connection.execute(
                events.delete().where(events.c.id <= last_old, events.c.id < newest)
            )
        return deleted.rowcount
