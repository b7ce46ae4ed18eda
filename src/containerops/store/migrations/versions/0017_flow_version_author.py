"""flow_versions: who saved each version (the API's caller; none for ``coops run``)

The web UI's flow page lists a flow's versions with who saved them and when.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 16:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("flow_versions", sa.Column("created_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE on every database (SQLite has DROP COLUMN since 3.35): a batch copy would
    # drop flow_versions, which runs reference, and SQLite's foreign keys refuse that.
    op.execute("ALTER TABLE flow_versions DROP COLUMN created_by")
