"""the life of a component version: who pushed it from which source, its size, and
whether it is deprecated or yanked

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 07:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("pushed_by", sa.String(128), nullable=True),
        sa.Column("source_commit", sa.String(64), nullable=True),
        sa.Column("source_dirty", sa.Boolean, nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("deprecated", sa.Text, nullable=True),
        sa.Column("yanked", sa.Text, nullable=True),
        sa.Column("replacement", sa.String(64), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("component_versions") as batch:
        for column in _columns():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("component_versions") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
