"""components: namespaces, components, their pushed versions and search words

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "namespaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_namespaces")),
        sa.UniqueConstraint("name", name=op.f("uq_namespaces_name")),
    )
    op.create_table(
        "components",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("latest_version", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["namespaces.id"], name=op.f("fk_components_namespace_id_namespaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_components")),
        sa.UniqueConstraint("namespace_id", "name", name="uq_components_namespace_id_name"),
    )
    op.create_table(
        "component_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("image_id", sa.String(length=80), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("readme", sa.Text(), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_component_versions_component_id_components")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_component_versions")),
        sa.UniqueConstraint("component_id", "version", name="uq_component_versions_component_id_version"),
    )

    op.create_table(
        "component_words",
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("word", sa.String(length=160), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"], ["components.id"], name=op.f("fk_component_words_component_id_components")
        ),
        sa.PrimaryKeyConstraint("component_id", "word", name=op.f("pk_component_words")),
    )
    with op.batch_alter_table("component_words", schema=None) as batch_op:
        batch_op.create_index(
            "ix_component_words_word_component_id_weight", ["word", "component_id", "weight"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("component_words", schema=None) as batch_op:
        batch_op.drop_index("ix_component_words_word_component_id_weight")

    op.drop_table("component_words")
    op.drop_table("component_versions")
    op.drop_table("components")
    op.drop_table("namespaces")
