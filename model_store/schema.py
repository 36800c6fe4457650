"""The database schema's version: apply Alembic's migrations, or tell that they are due.

`upgrade(url)` is what `nnservice db upgrade` runs (and `nnservice up` before it starts
anything). It never races: on PostgreSQL it holds a session advisory lock while it migrates, on
SQLite an immediate transaction (the database's write lock). The API and the workers create the
schema of an empty database themselves (`upgrade(url, only_if_empty=True)`, under the same lock,
as MLflow's server does), then call `require_current(engine)` and refuse to run on a database
that is behind: migrating one is the operator's decision.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from model_store.database import IMMEDIATE, make_engine
from model_store.errors import SchemaOutOfDate

MIGRATIONS = Path(__file__).with_name("migrations")
#: pg_advisory_lock key of the store's migrations (any constant; "nnsv" in ASCII).
ADVISORY_LOCK_KEY = 0x6E6E7376
#: The command that brings a database up to date (named in every "behind" message).
UPGRADE_COMMAND = "nnservice db upgrade"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration for the store's migrations (on `connection`, if given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package always ships its migrations
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, *, only_if_empty: bool = False) -> tuple[str | None, str | None]:
    """Migrate the database at `url` to the newest revision; returns (before, after).

    With `only_if_empty`, a database that already has a schema is left as it is (the check is
    made under the lock, so of several processes starting on one empty database exactly one
    creates the schema); `after` is then the revision it is at.
    """
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                connection.execute(
                    sa.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
                connection.commit()
                try:
                    before = MigrationContext.configure(connection).get_current_revision()
                    connection.commit()
                    if only_if_empty and before is not None:
                        return before, before
                    command.upgrade(alembic_config(connection), "head")
                    connection.commit()
                finally:
                    connection.execute(
                        sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    )
                    connection.commit()
        else:
            with engine.connect().execution_options(**{IMMEDIATE: True}) as connection:
                before = MigrationContext.configure(connection).get_current_revision()
                if only_if_empty and before is not None:
                    return before, before
                command.upgrade(alembic_config(connection), "head")
                connection.commit()
        return before, head_revision()
    finally:
        engine.dispose()


def require_current(engine: Engine) -> None:
    """Raise SchemaOutOfDate (naming the command to run) unless the database is at the head."""
    head = head_revision()
    try:
        current = current_revision(engine)
    except sa.exc.SQLAlchemyError as error:
        raise SchemaOutOfDate(
            f"cannot read the database's schema version ({error.__class__.__name__}: "
            f"{error}); is NNSERVICE_DATABASE_URL right?"
        ) from None
    if current != head:
        where = "empty" if current is None else f"at revision {current}"
        raise SchemaOutOfDate(
            f"the database is {where}, this version needs revision {head}: "
            f"run `{UPGRADE_COMMAND}` first"
        )
