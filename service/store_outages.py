"""Which part of the store did not answer, its database or its object store, and how clients are
told.

An unreachable part is an outage, not a fault of the request or of the stored data: clients get
`503` naming the part ("try again shortly"), and the model cache keeps its last good model and
tries again at its next poll. A database that answers that its disk is full is no outage: that is
a write the store cannot make (`507`, `service.api`).
"""

from __future__ import annotations

import sqlalchemy as sa

from model_store.database import is_disk_full
from model_store.errors import ObjectStoreUnreachable

#: The parts, as named in error bodies' `errors` and in /readyz.
DATABASE = "database"
OBJECT_STORE = "object_store"
#: What clients are told about each part.
UNREACHABLE = {
    DATABASE: "the store's database is unreachable",
    OBJECT_STORE: "the object store is unreachable",
}
#: What a client can do about it.
TRY_AGAIN = "try again shortly"


class StoreUnreachable(Exception):
    """A part of the store (`DATABASE` or `OBJECT_STORE`) did not answer."""

    def __init__(self, part: str) -> None:
        super().__init__(UNREACHABLE[part])
        self.part = part

    @property
    def message(self) -> str:
        """The client's message: which part, and that trying again will do."""
        return f"{self}; {TRY_AGAIN}"


def unreachable_part(error: BaseException) -> str | None:
    """The part of the store `error` says is unreachable, or None if it says something else."""
    if isinstance(error, StoreUnreachable):
        return error.part
    if isinstance(error, ObjectStoreUnreachable):
        return OBJECT_STORE
    if isinstance(error, sa.exc.OperationalError) and not is_disk_full(error):
        return DATABASE
    return None
