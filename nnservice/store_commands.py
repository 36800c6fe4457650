"""`nnservice db upgrade` and `nnservice store import DIR`: the store's own administration."""

from __future__ import annotations

import sys

import click

from foundation.settings import Settings


def unreachable_database(settings: Settings) -> str | None:
    """Why the store's database cannot be reached (the driver's first line), or None if it
    answers a query."""
    import sqlalchemy as sa

    from model_store.database import make_engine

    engine = make_engine(settings.store_database_url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        return str(error.orig or error).splitlines()[0]
    finally:
        engine.dispose()
    return None


def require_current_schema(settings: Settings, *, unreachable_ok: bool = False) -> None:
    """Create the schema of an empty database, else exit with a message naming `nnservice db
    upgrade` unless the database is up to date (`nnservice api` and `nnservice worker` call this
    before they start).

    With `unreachable_ok` (the API), a database that cannot be reached is no reason to refuse
    to start: the API starts, says so, and answers 503 naming the database (and /readyz not
    ready) until it answers; its schema is then not checked."""
    import sqlalchemy as sa

    from model_store import ModelStore, SchemaOutOfDate
    from model_store.schema import upgrade

    if unreachable_ok:
        reason = unreachable_database(settings)
        if reason is not None:
            click.echo(
                f"nnservice: the store's database is unreachable ({reason}); starting anyway:"
                " what needs it answers 503 until it is back",
                err=True,
            )
            return
    try:
        before, after = upgrade(settings.store_database_url, only_if_empty=True)
    except sa.exc.SQLAlchemyError:
        pass  # unreachable or unreadable: `require_current_schema` below says so
    else:
        if before is None:
            click.echo(f"nnservice: created the database's schema (revision {after})", err=True)
    store = ModelStore.from_settings(settings)
    try:
        store.require_current_schema()
    except SchemaOutOfDate as error:
        click.echo(f"nnservice: {error}", err=True)
        sys.exit(2)
    finally:
        store.close()


def upgrade_database(settings: Settings, echo=click.echo) -> None:  # noqa: ANN001
    """Apply the store's migrations to NNSERVICE_DATABASE_URL (safe to run at any time)."""
    from model_store.schema import upgrade

    before, after = upgrade(settings.store_database_url)
    if before == after:
        echo(f"nnservice: the database is up to date (revision {after})")
    else:
        echo(f"nnservice: database upgraded from {before or 'empty'} to revision {after}")


@click.group()
def db() -> None:
    """The store's database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database's tables to this version (Alembic)."""
    upgrade_database(Settings.from_env())


@click.group()
def store() -> None:
    """The store's contents."""


@store.command("import")
@click.argument(
    "directory", type=click.Path(exists=True, file_okay=False, dir_okay=True, readable=True)
)
def store_import(directory: str) -> None:
    """Import a store directory of the file format (before the database) into this store."""
    from model_store import ModelStore
    from model_store.legacy_import import describe, import_file_store

    settings = Settings.from_env()
    require_current_schema(settings)
    target = ModelStore.from_settings(settings)
    try:
        report = import_file_store(target, directory)
    finally:
        target.close()
    for problem in report.unreadable:
        click.echo(f"nnservice: not imported: {problem}", err=True)
    click.echo(describe(report))


def register(group: click.Group) -> None:
    """Add the `db` and `store` groups to the `nnservice` command."""
    group.add_command(db)
    group.add_command(store)
