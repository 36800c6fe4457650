"""The first schema: datasets, models, jobs (with leases) and the promotion history.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(128)


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("object_key", sa.Text, nullable=False),
    )
    op.create_index("ix_datasets_created", "datasets", ["created_us", "id"])
    op.create_table(
        "models",
        sa.Column("id", ID, primary_key=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("job_id", ID, nullable=True),
        sa.Column("dataset_id", ID, nullable=True),
        sa.Column("train_accuracy", sa.Float, nullable=True),
        sa.Column("validation_accuracy", sa.Float, nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("object_key", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="ok"),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_models_created", "models", ["created_us", "id"])
    op.create_index("ix_models_dataset_created", "models", ["dataset_id", "created_us", "id"])
    op.create_table(
        "jobs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("started_us", sa.BigInteger, nullable=True),
        sa.Column("finished_us", sa.BigInteger, nullable=True),
        sa.Column("dataset_id", ID, nullable=True),
        sa.Column("hyperparameters", sa.JSON, nullable=False),
        sa.Column("initial_model_id", ID, nullable=True),
        sa.Column("promote", sa.Boolean, nullable=False),
        sa.Column("snapshot_id", ID, nullable=False, unique=True),
        sa.Column("model_id", ID, nullable=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("progress", sa.JSON, nullable=False),
        sa.Column("loss_history", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("sent_us", sa.BigInteger, nullable=True),
        sa.Column("training_seconds", sa.Float, nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index("ix_jobs_created", "jobs", ["created_us", "id"])
    op.create_index("ix_jobs_state_created", "jobs", ["state", "created_us", "id"])
    op.create_index("ix_jobs_dataset_created", "jobs", ["dataset_id", "created_us", "id"])
    op.create_table(
        "promotions",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alias", sa.String(128), nullable=False, server_default="latest"),
        sa.Column("model_id", ID, nullable=False),
        sa.Column("promoted_us", sa.BigInteger, nullable=False),
        sa.Column("promoted_by", sa.String(255), nullable=False),
    )
    op.create_index("ix_promotions_alias_seq", "promotions", ["alias", "seq"])


def downgrade() -> None:
    op.drop_table("promotions")
    op.drop_table("jobs")
    op.drop_table("models")
    op.drop_table("datasets")
