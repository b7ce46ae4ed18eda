"""runs: concurrency groups and cancel requests

A flow's ``concurrency: {group}`` makes runs of one group run one at a time, across every
process on the store: each run records its group, one row per group names the run that
holds it (taken by a conditional update), and a run owned by another process can be
asked to stop through ``runs.cancel_request``, which its owner reads with its heartbeat.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("concurrency_group", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("cancel_request", sa.Text(), nullable=True))
        batch_op.create_index("ix_runs_concurrency_group_status", ["concurrency_group", "status"])
    op.create_table(
        "concurrency_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_concurrency_groups_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concurrency_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_concurrency_groups_name")),
    )


def downgrade() -> None:
    op.drop_table("concurrency_groups")
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of ``runs`` would drop
    # a table that others' foreign keys point at
    op.drop_index("ix_runs_concurrency_group_status", table_name="runs")
    op.drop_column("runs", "cancel_request")
    op.drop_column("runs", "concurrency_group")
