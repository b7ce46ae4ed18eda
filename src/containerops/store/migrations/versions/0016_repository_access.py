"""one namespace model for the repository: public or private namespaces and components,
a namespace row for every user and organization, and the registry's refusals

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 09:40:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: Times and texts as 0013 made them on MySQL (microseconds, beyond 64 KiB).
TIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

_namespaces = sa.table(
    "namespaces",
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("created_at", TIME),
    sa.column("public", sa.Boolean),
)


def upgrade() -> None:
    with op.batch_alter_table("namespaces") as batch:
        batch.add_column(sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("components") as batch:
        batch.add_column(sa.Column("public", sa.Boolean, nullable=True))
    op.create_table(
        "access_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("user", sa.String(length=64), nullable=True),
        sa.Column("token_key", sa.String(length=32), nullable=True),
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("reason", TEXT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_refusals")),
    )
    op.create_index("ix_access_refusals_at", "access_refusals", ["at"])
    bind = op.get_bind()
    # The library is read by everyone, as it always was.
    bind.execute(_namespaces.update().where(_namespaces.c.name == "library").values(public=True))
    # Every user and organization has its namespace in the repository too.
    for table, kind in (("users", "user"), ("organizations", "organization")):
        owners = sa.table(table, sa.column("name", sa.String), sa.column("created_at", TIME))
        missing = sa.select(owners.c.name, sa.literal(kind), owners.c.created_at, sa.false()).where(
            owners.c.name.not_in(sa.select(_namespaces.c.name).scalar_subquery())
        )
        bind.execute(_namespaces.insert().from_select(["name", "kind", "created_at", "public"], missing))


def downgrade() -> None:
    op.drop_index("ix_access_refusals_at", table_name="access_refusals")
    op.drop_table("access_refusals")
    with op.batch_alter_table("components") as batch:
        batch.drop_column("public")
    with op.batch_alter_table("namespaces") as batch:
        batch.drop_column("public")
