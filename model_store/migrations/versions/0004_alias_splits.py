"""Aliases of every name, with splits and removals, in the promotion history.

A promotion row now says what an alias names from then on: one model (`model_id`), a weighted
split of several (`split`, a JSON list of {"model_id", "weight"}; `model_id` holds its first
member), or nothing (both null: the alias was removed). Rows before this revision each name one
model, as they did.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("promotions") as batch:
        batch.add_column(sa.Column("split", sa.JSON, nullable=True))
        batch.alter_column("model_id", existing_type=sa.String(128), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM promotions WHERE model_id IS NULL"))
    with op.batch_alter_table("promotions") as batch:
        batch.alter_column("model_id", existing_type=sa.String(128), nullable=False)
        batch.drop_column("split")
