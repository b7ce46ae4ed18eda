"""The tables. Core tables rather than ORM classes: the engine writes in bulk
(``executemany``), and nothing here is specific to SQLite, so PostgreSQL and
MySQL/TiDB work unchanged (bounded VARCHARs for indexed columns, portable JSON).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Timestamp = sa.DateTime(timezone=True)

flows = sa.Table(
    "flows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uri", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

flow_versions = sa.Table(
    "flow_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flow_id", sa.Integer, sa.ForeignKey("flows.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("flow_id", "version", name="uq_flow_versions_flow_id_version"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flow_id", sa.Integer, sa.ForeignKey("flows.id"), nullable=False),
    sa.Column("flow_version_id", sa.Integer, sa.ForeignKey("flow_versions.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    #: Unique across every store and machine: labels the run's containers.
    sa.Column("uid", sa.String(32), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("executor", sa.String(32), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("started_at", Timestamp, nullable=True),
    sa.Column("finished_at", Timestamp, nullable=True),
    sa.UniqueConstraint("flow_id", "number", name="uq_runs_flow_id_number"),
    sa.Index("ix_runs_status", "status"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("path", sa.String(255), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("image", sa.String(512), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("outputs", sa.JSON, nullable=False),
    sa.Column("started_at", Timestamp, nullable=True),
    sa.Column("finished_at", Timestamp, nullable=True),
    sa.UniqueConstraint("run_id", "path", name="uq_jobs_run_id_path"),
)

job_attempts = sa.Table(
    "job_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("outputs", sa.JSON, nullable=False),
    sa.Column("started_at", Timestamp, nullable=True),
    sa.Column("finished_at", Timestamp, nullable=True),
    sa.UniqueConstraint("job_id", "attempt", name="uq_job_attempts_job_id_attempt"),
)

state_changes = sa.Table(
    "state_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), nullable=True),
    sa.Column("attempt", sa.Integer, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Index("ix_state_changes_run_id", "run_id"),
)

log_lines = sa.Table(
    "log_lines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("stream", sa.String(6), nullable=False),
    sa.Column("line", sa.Text, nullable=False),
    sa.Index("ix_log_lines_run_id_id", "run_id", "id"),
    sa.Index("ix_log_lines_job_id", "job_id"),  # for the foreign key; readers go by run_id, id
)
