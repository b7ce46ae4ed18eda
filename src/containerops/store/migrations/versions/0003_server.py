"""server core (runs started by the server, reruns)

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("trigger", sa.JSON, nullable=True))
    op.add_column("runs", sa.Column("rerun_of", sa.Integer, nullable=True))
    op.add_column("flows", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_runs_created_at", "runs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_created_at", table_name="runs")
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("deleted_at")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("rerun_of")
        batch.drop_column("trigger")
