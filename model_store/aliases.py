"""Aliases: names that point at a model or a weighted split of models, kept as history.

An alias is what its newest row in `promotions` says: one model, a split (`split`), or nothing
(the alias was removed). Every change appends a row, so the table is the history of every alias
and who changed it. `latest` is the alias a model is promoted to and /predict serves by default;
it can be moved but not removed. The newest `seq` is the registry's version: one query on the
primary key tells a process whether any alias changed.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foundation.events import EventType
from model_store.errors import NotFound, StoreError
from model_store.events import record_event
from model_store.models import ANONYMOUS, LATEST, ModelTable
from model_store.records import AliasChange, AliasMember
from model_store.tables import promotions
from model_store.times import iso, now_us

#: What an alias name looks like.
ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,63}")
ALIAS_RULE = "^[a-z][a-z0-9_-]{0,63}$"

COLUMNS = (
    promotions.c.seq,
    promotions.c.alias,
    promotions.c.model_id,
    promotions.c.split,
    promotions.c.promoted_us,
    promotions.c.promoted_by,
)


class InvalidAlias(StoreError, ValueError):
    """A name that is not an alias name."""

    def __init__(self, name: object) -> None:
        super().__init__(f"invalid alias name {name!r}: it must match {ALIAS_RULE}")


class AliasRequired(StoreError):
    """An alias that cannot be removed (`latest`)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"alias {name!r} cannot be removed: /predict serves it by default")
        self.alias = name


def validate_alias(name: object) -> str:
    """`name` if it is an alias name, else InvalidAlias."""
    if not isinstance(name, str) or ALIAS_PATTERN.fullmatch(name) is None:
        raise InvalidAlias(name)
    return name


def _change(row: sa.Row) -> AliasChange:
    if row.split:
        members = tuple(AliasMember(item["model_id"], int(item["weight"])) for item in row.split)
    elif row.model_id is not None:
        members = (AliasMember(row.model_id, 1),)
    else:
        members = ()
    return AliasChange(
        seq=row.seq,
        alias=row.alias,
        members=members,
        is_split=bool(row.split),
        changed_at=iso(row.promoted_us),
        changed_by=row.promoted_by,
    )


class AliasTable:
    """Sets, moves, removes and reads aliases; every change is a row of the history."""

    def __init__(self, engine: Engine, models: ModelTable) -> None:
        self.engine = engine
        self.models = models

    def set(
        self, name: str, members: list[AliasMember], changed_by: str = ANONYMOUS
    ) -> AliasChange:
        """Point `name` at one model (one member) or a split (several, positive weights); each
        model is verified first (NotFound, CorruptSnapshot naming it)."""
        validate_alias(name)
        if not members:
            raise ValueError("an alias names at least one model")
        for member in members:
            if member.weight < 1:
                raise ValueError(f"weight of {member.model_id!r} must be a positive integer")
            self.models.snapshot(member.model_id)
        split = (
            [{"model_id": m.model_id, "weight": m.weight} for m in members]
            if len(members) > 1
            else None
        )
        return self._append(name, members[0].model_id, split, changed_by)

    def remove(self, name: str, changed_by: str = ANONYMOUS) -> AliasChange:
        """Remove `name` (a row naming nothing); NotFound if it is not set, AliasRequired for
        `latest`."""
        validate_alias(name)
        if name == LATEST:
            raise AliasRequired(name)
        self.get(name)
        return self._append(name, None, None, changed_by)

    def _append(
        self, name: str, model_id: str | None, split: list | None, changed_by: str
    ) -> AliasChange:
        with self.engine.begin() as connection:
            seq = connection.execute(
                promotions.insert().values(
                    alias=name,
                    model_id=model_id,
                    split=split,
                    promoted_us=now_us(),
                    promoted_by=changed_by,
                )
            ).inserted_primary_key[0]
            row = connection.execute(sa.select(*COLUMNS).where(promotions.c.seq == seq)).one()
            record_event(
                connection,
                EventType.ALIAS_CHANGED,
                alias=name,
                model_id=model_id,
                split=split,
                changed_by=changed_by,
            )
        return _change(row)

    def get(self, name: str) -> AliasChange:
        """What `name` names now; NotFound("alias") if it was never set or was removed."""
        validate_alias(name)
        history = self.history(name, 1)
        if not history or history[0].removed:
            raise NotFound("alias", name)
        return history[0]

    def list(self) -> list[AliasChange]:
        """Every alias set now, by name: the newest row of each alias that names a model."""
        return [change for change in self.newest() if not change.removed]

    def newest(self) -> list[AliasChange]:
        """The newest row of every alias (removed ones too), by name: one query."""
        newest_seq = (
            sa.select(sa.func.max(promotions.c.seq)).group_by(promotions.c.alias).scalar_subquery()
        )
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(*COLUMNS)
                .where(promotions.c.seq.in_(newest_seq))
                .order_by(promotions.c.alias)
            ).all()
        return [_change(row) for row in rows]

    def history(self, name: str, limit: int = 100) -> list[AliasChange]:
        """The changes of `name`, newest first."""
        validate_alias(name)
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(*COLUMNS)
                .where(promotions.c.alias == name)
                .order_by(promotions.c.seq.desc())
                .limit(limit)
            ).all()
        return [_change(row) for row in rows]

    def version(self) -> int:
        """The newest change's `seq` (0 before any): it moves whenever any alias changes."""
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.max(promotions.c.seq))).scalar() or 0)
