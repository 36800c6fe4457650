"""Deleting batch predictions, and the count of rows batches scored: `batch_predictions.deleting_us`
(set when a deletion starts: the batch is hidden from then on, and its objects are removed before
its rows) and `counters` (monotonic counts that outlive the rows they count; its one row
`batch_rows_scored` starts at the rows the batches kept so far have scored).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batch_predictions", sa.Column("deleting_us", sa.BigInteger, nullable=True))
    op.create_index("ix_batch_predictions_finished", "batch_predictions", ["finished_us"])
    op.create_table(
        "counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.execute(
        "INSERT INTO counters (name, value) "
        "SELECT 'batch_rows_scored', COALESCE(SUM(rows_done), 0) FROM batch_predictions"
    )


def downgrade() -> None:
    op.drop_table("counters")
    op.drop_index("ix_batch_predictions_finished", "batch_predictions")
    with op.batch_alter_table("batch_predictions") as batch:
        batch.drop_column("deleting_us")
