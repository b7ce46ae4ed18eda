"""removed_counts: what the store removed on purpose (old logs, unproved refusals)

``/metrics``' counters (log lines stored, webhook deliveries received) were read from the rows
held, so they went down when ``coops gc`` or the refusals' bound removed some: a counter
Prometheus takes for a restart. They now add what was removed, counted here.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "removed_counts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("removed_counts")
