"""Sweeps: the `sweeps` table, and the trial a job is (`sweep_id`, `trial_number`, `pruned`).

A sweep's Optuna study lives in the same database, in Optuna's own tables (`studies`,
`trials`, ...), which Optuna creates itself the first time a sweep needs them
(`model_store.studies`); this migration does not touch them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("finished_us", sa.BigInteger, nullable=True),
        sa.Column("dataset_id", sa.String(128), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("trials", sa.Integer, nullable=False),
        sa.Column("parallel", sa.Integer, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("best_job_id", sa.String(128), nullable=True),
        sa.Column("promotion", sa.JSON, nullable=True),
        sa.Column("lease_owner", sa.String(255), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("pokes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index("ix_sweeps_created", "sweeps", ["created_us", "id"])
    op.create_index("ix_sweeps_state_created", "sweeps", ["state", "created_us", "id"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("sweep_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("trial_number", sa.Integer, nullable=True))
        batch.add_column(sa.Column("pruned", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_index("ix_jobs_sweep_trial", ["sweep_id", "trial_number"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_sweep_trial")
        batch.drop_column("pruned")
        batch.drop_column("trial_number")
        batch.drop_column("sweep_id")
    op.drop_index("ix_sweeps_state_created", "sweeps")
    op.drop_index("ix_sweeps_created", "sweeps")
    op.drop_table("sweeps")
