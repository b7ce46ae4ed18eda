"""workers, and the job attempts they lease (ready_jobs, with a fence) and stream (ready_job_lines)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 09:50:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# As schema.py says them: microseconds and long texts on MySQL (see 0013).
Time = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(timezone=True, fsp=6), "mysql", "mariadb")
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("executor", sa.String(length=16), nullable=False),
        sa.Column("process", sa.String(length=255), nullable=False),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("heartbeat_at", Time, nullable=False),
        sa.Column("stopped_at", Time, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
        sa.UniqueConstraint("name", name=op.f("uq_workers_name")),
    )
    op.create_table(
        "ready_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("lease_until", Time, nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("claimed_at", Time, nullable=True),
        sa.Column("finished_at", Time, nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("oom_killed", sa.Boolean(), nullable=False),
        sa.Column("reason", LongText, nullable=True),
        sa.Column("output_file", LongText, nullable=True),
        sa.Column("cleared", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_ready_jobs_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ready_jobs")),
    )
    op.create_index("ix_ready_jobs_status_id", "ready_jobs", ["status", "id"])
    op.create_index("ix_ready_jobs_run_id", "ready_jobs", ["run_id"])
    op.create_table(
        "ready_job_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ready_job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("stream", sa.String(length=6), nullable=False),
        sa.Column("line", LongText, nullable=False),
        sa.ForeignKeyConstraint(
            ["ready_job_id"], ["ready_jobs.id"], name=op.f("fk_ready_job_lines_ready_job_id_ready_jobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ready_job_lines")),
    )
    op.create_index("ix_ready_job_lines_ready_job_id_seq", "ready_job_lines", ["ready_job_id", "seq"])


def downgrade() -> None:
    op.drop_table("ready_job_lines")
    op.drop_table("ready_jobs")
    op.drop_table("workers")
