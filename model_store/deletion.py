"""Deleting a row and then its blob, unless something still needs the row.

One transaction locks the row (`FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE` takes SQLite's write
lock) and deletes it with a single compare-and-set statement, `DELETE ... WHERE id = :id AND NOT
EXISTS (holder) ... RETURNING object_key`; writers that add a holder (a promotion) lock the same
row first, so none slips in between; the deletion's event is written in the same transaction.
Only after the commit is the blob removed: a crash between the two leaves an unnamed blob
(invisible, harmless garbage), never a row without its blob.

A new row never shares a blob that a deletion may still remove: `create_unshared` writes under
the usual key only if nothing is there, else under a key of its own.
"""

from __future__ import annotations

import logging
import posixpath
import secrets
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foundation.events import EventType
from model_store.database import IMMEDIATE
from model_store.errors import InUse, NotFound, StoreError
from model_store.events import record_event
from model_store.objects import ObjectStore

log = logging.getLogger(__name__)

#: Tries of the conditional DELETE when a holder vanished between it and naming the holders.
ATTEMPTS = 3


def locked_transaction(engine: Engine) -> sa.Connection:
    """A connection whose transaction takes SQLite's write lock at BEGIN (a no-op elsewhere):
    use as `with locked_transaction(engine) as connection, connection.begin(): ...`."""
    return engine.connect().execution_options(**{IMMEDIATE: True})


def delete_unless_held(
    engine: Engine,
    objects: ObjectStore,
    kind: str,
    table: sa.Table,
    row_id: str,
    holders: Mapping[str, sa.Select],
    event_type: EventType,
) -> None:
    """Delete `table`'s row `row_id` and then its blob (`object_key`), unless a holder query
    returns a row. NotFound if there is no such row; InUse naming every holder otherwise.

    `holders` maps a kind of holder ("aliases", "jobs") to a query of their names. The
    deletion's event (`event_type`, with `<kind>_id`) is written in its transaction.
    """
    with locked_transaction(engine) as connection, connection.begin():
        present = connection.execute(
            sa.select(table.c.id).where(table.c.id == row_id).with_for_update()
        ).first()
        if present is None:
            raise NotFound(kind, row_id)
        conditions = [~query.exists() for query in holders.values()]
        delete = table.delete().where(table.c.id == row_id, *conditions)
        for _ in range(ATTEMPTS):
            key = connection.execute(delete.returning(table.c.object_key)).scalar()
            if key is not None:
                record_event(connection, event_type, **{f"{kind}_id": row_id})
                break
            found = {
                what: list(connection.execute(query).scalars()) for what, query in holders.items()
            }
            named = {what: names for what, names in found.items() if names}
            if named:
                raise InUse(kind, row_id, named)
        else:  # holders came and went under us each time: say so rather than loop on
            raise InUse(kind, row_id, {"writers": ["busy; try again"]})
    try:
        objects.delete(key)
    except StoreError as error:  # the row is gone: the blob is garbage now, as after a crash
        log.warning("deleted %s %s but not its blob %s: %s", kind, row_id, key, error)


def create_unshared(objects: ObjectStore, key: str, data: bytes) -> str:
    """Write an immutable blob for a new row, under `key` if nothing is there, else under a new
    sibling key (`<key stem>-<random hex><suffix>`); return the key written.

    An object already at `key` may belong to a row that a deletion has just removed and whose
    blob it is about to remove (a content-addressed dataset uploaded again meanwhile), or be
    left by a failed try: a new row must not rely on it.
    """
    if objects.create(key, data):
        return key
    stem, suffix = posixpath.splitext(key)
    fresh = f"{stem}-{secrets.token_hex(8)}{suffix}"
    objects.create(fresh, data)
    return fresh
