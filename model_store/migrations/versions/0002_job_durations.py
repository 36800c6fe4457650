"""The kept histogram of finished jobs' training seconds (`job_durations`), filled from `jobs`.

A /metrics scrape read every finished job's row to build the histogram, so its cost grew with
the history (bench/README.md, "Store history"); the store now adds each job to these rows in the
transaction that finishes it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The bounds as this revision created them (model_store.tables.DURATION_BOUNDS then).
BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 10800.0)
STATES = ("succeeded", "failed", "cancelled")


def upgrade() -> None:
    table = op.create_table(
        "job_durations",
        sa.Column("state", sa.String(16), primary_key=True),
        sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("jobs", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
    )
    op.bulk_insert(
        table,
        [
            {"state": state, "bucket": bucket, "jobs": 0, "seconds": 0.0}
            for state in STATES
            for bucket in range(len(BOUNDS) + 1)
        ],
    )
    jobs = sa.table("jobs", sa.column("state", sa.String), sa.column("training_seconds", sa.Float))
    seconds = jobs.c.training_seconds
    for bucket in range(len(BOUNDS) + 1):
        within = [seconds.is_not(None), jobs.c.state == table.c.state]
        if bucket < len(BOUNDS):
            within.append(seconds <= BOUNDS[bucket])
        if bucket > 0:
            within.append(seconds > BOUNDS[bucket - 1])
        op.execute(
            table.update()
            .where(table.c.bucket == bucket)
            .values(
                jobs=sa.select(sa.func.count()).where(*within).scalar_subquery(),
                seconds=sa.select(sa.func.coalesce(sa.func.sum(seconds), 0.0))
                .where(*within)
                .scalar_subquery(),
            )
        )


def downgrade() -> None:
    op.drop_table("job_durations")
