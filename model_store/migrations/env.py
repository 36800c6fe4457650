"""Alembic environment: run the store's migrations on the connection `model_store.schema` gives.

Migrations are only ever run through `model_store.schema.upgrade` (`nnservice db upgrade`), which
opens the connection, holds the lock that keeps two upgrades from racing, and passes it here.
"""

from __future__ import annotations

from alembic import context

from model_store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
