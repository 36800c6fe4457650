"""Batch predictions: `batch_predictions` (one row per batch: its model, input, totals and
confusion matrix) and `batch_chunks` (one row per chunk, with a lease like a job's).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_predictions",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("started_us", sa.BigInteger, nullable=True),
        sa.Column("finished_us", sa.BigInteger, nullable=True),
        sa.Column("model_id", sa.String(128), nullable=False),
        sa.Column("alias", sa.String(128), nullable=True),
        sa.Column("dataset_id", sa.String(128), nullable=True),
        sa.Column("has_gender", sa.Boolean, nullable=False),
        sa.Column("rows_total", sa.BigInteger, nullable=False),
        sa.Column("chunk_rows", sa.Integer, nullable=False),
        sa.Column("chunks_total", sa.Integer, nullable=False),
        sa.Column("chunks_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_done", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("female_as_female", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("female_as_male", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("male_as_female", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("male_as_male", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_batch_predictions_created", "batch_predictions", ["created_us", "id"])
    op.create_index(
        "ix_batch_predictions_state_created", "batch_predictions", ["state", "created_us", "id"]
    )
    op.create_table(
        "batch_chunks",
        sa.Column("batch_id", sa.String(128), primary_key=True),
        sa.Column("chunk", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("first_row", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sent_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_batch_chunks_state", "batch_chunks", ["state", "sent_us"])


def downgrade() -> None:
    op.drop_table("batch_chunks")
    op.drop_table("batch_predictions")
