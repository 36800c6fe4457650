"""A job's promotion request and the gate's decision: `promote_if_better`, `promote_alias`, and
`promotion` ({"promoted": ..., "alias" or "reason": ...}, set when the job succeeds).

Jobs from before keep their meaning: promote (or not) `latest`, without comparing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("promote_if_better", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("promote_alias", sa.String(128), nullable=False, server_default="latest")
        )
        batch.add_column(sa.Column("promotion", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("promotion")
        batch.drop_column("promote_alias")
        batch.drop_column("promote_if_better")
