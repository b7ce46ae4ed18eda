"""The tables. Core tables rather than ORM classes: the engine writes in bulk
(``executemany``), and nothing here is specific to SQLite, so PostgreSQL and
MySQL/MariaDB/TiDB work unchanged (bounded VARCHARs for indexed columns, portable JSON).
On MySQL two types need a size their default lacks (migration 0013): times keep their
microseconds (``DATETIME(6)``) and texts may be longer than 64 KiB (``LONGTEXT``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from containerops.timestamps import SQLITE_FORMAT, SQLITE_PATTERN, utc

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class StoredTime(sa.types.TypeDecorator[datetime]):
    """A point in time, written in UTC and read back aware. SQLite, which has no time
    type, holds it as RFC 3339 text with its offset (``2026-12-03T22:10:07.123456+00:00``,
    what the API and the CLI show; migration 0009 rewrote older naive texts); MySQL's
    ``DATETIME(6)`` holds the UTC time without a zone; PostgreSQL has its own
    timezone-aware type."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(
                sqlite.DATETIME(storage_format=SQLITE_FORMAT, regexp=SQLITE_PATTERN)  # type: ignore[no-untyped-call]
            )
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(timezone=True, fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return utc(value)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return utc(value)


Timestamp = StoredTime()
#: Text of any length: MySQL's TEXT stops at 64 KiB (a flow's source, a webhook's body,
#: one long log line go past it).
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

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
    sa.Column("source", LongText, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    #: The user who saved it through the API; None for ``coops run`` (a local save).
    sa.Column("created_by", sa.String(64), nullable=True),
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
    sa.Column("reason", LongText, nullable=True),
    sa.Column("executor", sa.String(32), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("started_at", Timestamp, nullable=True),
    sa.Column("finished_at", Timestamp, nullable=True),
    #: The process that runs it (``host:pid:start``), and when it last said it was alive
    #: (migration 0008): any coops process can tell an abandoned run from a live one.
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("heartbeat_at", Timestamp, nullable=True),
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
    sa.Column("reason", LongText, nullable=True),
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
    sa.Column("reason", LongText, nullable=True),
    sa.Column("outputs", sa.JSON, nullable=False),
    sa.Column("started_at", Timestamp, nullable=True),
    sa.Column("finished_at", Timestamp, nullable=True),
    #: Lines the attempt printed past its log's cap: counted, not stored (None: none were).
    sa.Column("log_unstored", sa.BigInteger, nullable=True),
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
    sa.Column("reason", LongText, nullable=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Index("ix_state_changes_run_id", "run_id"),
)

#: Bytes of any length: MySQL's BLOB stops at 64 KiB (a block of log lines goes past it).
LongBinary = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")

#: A run's log lines in compressed blocks (``store.logblocks``): each holds lines
#: ``first_line``..``last_line`` of the run's numbering (the order they were stored in, which
#: keeps each stream of each job in its order), all of one job attempt. Readers go along
#: (run_id, last_line) or (job_id, last_line): a page, a tail or a range reads its blocks only.
log_blocks = sa.Table(
    "log_blocks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("first_line", sa.BigInteger, nullable=False),
    sa.Column("last_line", sa.BigInteger, nullable=False),
    sa.Column("first_seq", sa.Integer, nullable=False),
    sa.Column("first_at", Timestamp, nullable=False),
    sa.Column("last_at", Timestamp, nullable=False),
    #: Characters of the block's lines (without newlines): sizes and caps without decoding.
    sa.Column("chars", sa.BigInteger, nullable=False),
    sa.Column("data", LongBinary, nullable=False),
    sa.UniqueConstraint("run_id", "last_line", name="uq_log_blocks_run_id_last_line"),
    sa.Index("ix_log_blocks_job_id_last_line", "job_id", "last_line"),
)
#: How many lines a block holds, from its row (nothing decoded): what counts of stored lines sum.
log_block_lines = log_blocks.c.last_line - log_blocks.c.first_line + 1

# -- components (the repository) ------------------------------------------------------
#: Names are checked (lowercase letters, digits, '-', '_') before they get here.

namespaces = sa.Table(
    "namespaces",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    #: library (ours, reserved) | organization | user
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    #: Whether every signed-in user may read its components (library: yes; others: no
    #: until their owner says so); a component may say otherwise (``components.public``).
    sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),
)

components = sa.Table(
    "components",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("namespace_id", sa.Integer, sa.ForeignKey("namespaces.id"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    #: The newest version (semver order) and its words, kept here so that listing
    #: and search read one row per component, not one per version.
    sa.Column("latest_version", sa.String(64), nullable=False),
    sa.Column("title", LongText, nullable=False),
    sa.Column("description", LongText, nullable=False),
    sa.Column("keywords", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    #: Public or private whatever its namespace is; None: as its namespace.
    sa.Column("public", sa.Boolean, nullable=True),
    sa.UniqueConstraint("namespace_id", "name", name="uq_components_namespace_id_name"),
)

component_versions = sa.Table(
    "component_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("component_id", sa.Integer, sa.ForeignKey("components.id"), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    #: The manifest digest in the registry (sha256:...): what runs pull by.
    sa.Column("digest", sa.String(80), nullable=False),
    #: The image's config digest (the Docker image id): what makes a re-push the same.
    sa.Column("image_id", sa.String(80), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("readme", LongText, nullable=False),
    sa.Column("pushed_at", Timestamp, nullable=False),
    #: Who pushed it (a user of the server, or ``user@host`` for a local push).
    sa.Column("pushed_by", sa.String(128), nullable=True),
    #: The git commit of the component's folder when it was pushed, and whether it had changes.
    sa.Column("source_commit", sa.String(64), nullable=True),
    sa.Column("source_dirty", sa.Boolean, nullable=True),
    #: The image's size in bytes.
    sa.Column("size", sa.BigInteger, nullable=True),
    #: Its owner's word when deprecated (a warning at validation and run); None if not.
    sa.Column("deprecated", LongText, nullable=True),
    #: Why it was yanked (new runs refuse it; runs that pinned it keep it), and what to use.
    sa.Column("yanked", LongText, nullable=True),
    sa.Column("replacement", sa.String(64), nullable=True),
    sa.UniqueConstraint("component_id", "version", name="uq_component_versions_component_id_version"),
)

#: What the registry's token endpoint refused, and to whom: an unknown or revoked token, an
#: action on a repository the caller may not read or write.
access_refusals = sa.Table(
    "access_refusals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", Timestamp, nullable=False),
    #: The user whose token it was; None when the token itself was refused.
    sa.Column("user", sa.String(64), nullable=True),
    sa.Column("token_key", sa.String(32), nullable=True),
    #: ``repository:NS/NAME:push`` (the action refused), or ``login`` for credentials.
    sa.Column("scope", sa.String(255), nullable=False),
    sa.Column("reason", LongText, nullable=False),
    sa.Index("ix_access_refusals_at", "at"),
)

component_words = sa.Table(
    "component_words",
    metadata,
    sa.Column("component_id", sa.Integer, sa.ForeignKey("components.id"), primary_key=True),
    #: One lowercase word of the newest version's name, keywords, title or description.
    sa.Column("word", sa.String(160), primary_key=True),
    #: How much a search word matching it counts (name 100 ... description 5).
    sa.Column("weight", sa.Integer, nullable=False),
    #: Searches look words up by prefix; the weight rides along so the index answers alone.
    sa.Index("ix_component_words_word_component_id_weight", "word", "component_id", "weight"),
)


# --- server core (runs started by the server, reruns): migration 0003 -----------------

#: What started a run the server runs (``{"type": "api"}``, a trigger and its delivery...);
#: NULL for runs ``coops run`` started, which a restarting server must leave alone.
runs.append_column(sa.Column("trigger", sa.JSON, nullable=True))
#: The run a rerun repeats, keeping the outputs of its successful jobs.
runs.append_column(sa.Column("rerun_of", sa.Integer, nullable=True))
#: Deleted flows keep their versions and runs (history stays); they are hidden and cannot start.
flows.append_column(sa.Column("deleted_at", Timestamp, nullable=True))
#: Listing runs by time (``since``/``until``) on a large store.
sa.Index("ix_runs_created_at", runs.c.created_at)

# --- engine features (pause decisions, service callbacks, lua): migration 0004 ---------

#: One row per pause stage a run reached: when it began to wait, until when, and the decision.
pauses = sa.Table(
    "pauses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("stage", sa.String(255), nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    #: When the wait fails the run; kept so that a restarted server honours the original deadline.
    sa.Column("deadline", Timestamp, nullable=True),
    sa.Column("decision", sa.String(16), nullable=True),  # approved | rejected | timeout
    sa.Column("decided_by", sa.String(255), nullable=True),
    sa.Column("comment", LongText, nullable=True),
    sa.Column("decided_at", Timestamp, nullable=True),
    sa.UniqueConstraint("run_id", "stage", name="uq_pauses_run_id_stage"),
)

#: One row per callback URL handed to a third service; only the token's SHA-256 is kept.
service_callbacks = sa.Table(
    "service_callbacks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=True),
    #: Set once, by the first (and only accepted) POST, or when the job stops waiting.
    sa.Column("closed_at", Timestamp, nullable=True),
    sa.Column("result", sa.Boolean, nullable=True),
    sa.Column("outputs", sa.JSON, nullable=True),
    sa.Column("log", LongText, nullable=True),
)


# --- triggers, schedules, deliveries and notifications: migration 0005 -----------------

#: Every webhook request a trigger route received, whatever came of it: accepted,
#: ignored (an event or branch the flow does not want), refused (bad signature or
#: token), duplicate (a redelivery). Secrets (tokens) are masked in ``headers``.
trigger_deliveries = sa.Table(
    "trigger_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flow_uri", sa.String(255), nullable=False),
    sa.Column("flow_id", sa.Integer, sa.ForeignKey("flows.id"), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),  # github | gitlab | webhook
    sa.Column("delivery_id", sa.String(128), nullable=True),  # X-GitHub-Delivery, ...
    sa.Column("event", sa.String(64), nullable=True),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", LongText, nullable=False),
    sa.Column("body_encoding", sa.String(8), nullable=False),  # utf-8 | base64
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("reason", LongText, nullable=True),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=True),
    #: Set only on the delivery that started a run, so that a redelivery cannot start another.
    sa.Column("dedupe_key", sa.String(255), nullable=True, unique=True),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Index("ix_trigger_deliveries_flow_uri_id", "flow_uri", "id"),
)

#: How much the store removed on purpose, by what (``store.removed``): old runs' log lines, and
#: refusals of unproved webhook requests past those kept. The metrics' counters add these to
#: what the store holds, so that they never go down when it forgets.
removed_counts = sa.Table(
    "removed_counts",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

#: One row per cron trigger of a flow's newest version; ``last_tick`` is the tick
#: last acted on, so that ticks missed while the server was down are detected.
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flow_id", sa.Integer, sa.ForeignKey("flows.id"), nullable=False),
    sa.Column("trigger_index", sa.Integer, nullable=False),
    sa.Column("schedule", sa.String(255), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("last_tick", Timestamp, nullable=True),
    sa.Column("next_tick", Timestamp, nullable=True),
    sa.Column("last_run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("missed_ticks", sa.Integer, nullable=False),  # ticks skipped by downtime, in all
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("flow_id", "trigger_index", name="uq_schedules_flow_id_trigger_index"),
)

#: One row per message to a receiver about a run (``started`` or ``finished``).
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("receiver_index", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),  # where, without secrets
    sa.Column("status", sa.String(16), nullable=False),  # sending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", LongText, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp, nullable=True),
    sa.Index("ix_notifications_run_id", "run_id"),
)


# --- auth (users, organizations, namespaces, members, tokens) and secrets: migration 0006

#: A user's own namespace is its name; organizations share the same name space.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    #: Site administrators see and manage every namespace, ``library`` included.
    sa.Column("admin", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

org_members = sa.Table(
    "org_members",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("org_id", sa.Integer, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # owner | writer | reader
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("org_id", "user_id", name="uq_org_members_org_id_user_id"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    #: The public part of the token (``coops_<key>_<secret>``): finds the row, names it in lists.
    sa.Column("key", sa.String(32), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("scope", sa.String(8), nullable=False),  # read | write | admin
    #: SHA-256 of the whole token; the token itself is never stored.
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=True),
    sa.Column("revoked_at", Timestamp, nullable=True),
)

#: Web UI sessions: a token exchanged for a cookie. The session acts as its token (same user
#: and scope; revoking the token ends it). Only the SHA-256 of the cookie's secret is kept.
ui_sessions = sa.Table(
    "ui_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_id", sa.Integer, sa.ForeignKey("api_tokens.id"), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Column("ended_at", Timestamp, nullable=True),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("namespace", sa.String(64), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    #: AES-GCM with the server key, bound to namespace and name; never the value in clear.
    sa.Column("ciphertext", LongText, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("namespace", "name", name="uq_secrets_namespace_name"),
)


# --- concurrency groups and cancel requests: migration 0010 -------------------------

#: The ``concurrency:`` group a run belongs to (``namespace/group``, resolved when it was
#: created), NULL for most runs.
runs.append_column(sa.Column("concurrency_group", sa.String(255), nullable=True))
#: Why another process asked the run to stop (a newer run of its group, ``coops runs
#: cancel`` of a run another process owns); the owner reads it with its heartbeat.
runs.append_column(sa.Column("cancel_request", LongText, nullable=True))
sa.Index("ix_runs_concurrency_group_status", runs.c.concurrency_group, runs.c.status)

#: One row per group: the run that holds it. Taking it is a conditional update from the
#: holder seen (finished, or its owner gone) to the taker, so two runs never both hold it.
concurrency_groups = sa.Table(
    "concurrency_groups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("taken_at", Timestamp, nullable=False),
)


# --- workers and the jobs they claim: migration 0014 ------------------------------

#: A ``coops worker`` process: what it offers (labels, slots) and when it last said it lives.
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("slots", sa.Integer, nullable=False),
    sa.Column("executor", sa.String(16), nullable=False),
    sa.Column("process", sa.String(255), nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("heartbeat_at", Timestamp, nullable=False),
    sa.Column("stopped_at", Timestamp, nullable=True),
)

#: One attempt of a job, ready for a worker (``ready``), leased by one (``claimed``, until
#: ``lease_until``), or over (``done``, ``lost``, ``cancelled``). ``fence`` grows at every
#: change of hands: a worker writes only while the fence it claimed with is the row's.
ready_jobs = sa.Table(
    "ready_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("path", sa.String(255), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("fence", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(255), nullable=True),
    sa.Column("lease_until", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("claimed_at", Timestamp, nullable=True),
    sa.Column("finished_at", Timestamp, nullable=True),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("oom_killed", sa.Boolean, nullable=False),
    sa.Column("reason", LongText, nullable=True),
    #: What the job wrote to ``CO_OUTPUT``, base64 (None: no file).
    sa.Column("output_file", LongText, nullable=True),
    #: Its worker has stopped whatever it ran (its container or process): a worker started
    #: again under the name of one killed with -9 stops those of its attempts not cleared.
    sa.Column("cleared", sa.Boolean, nullable=False),
    sa.Index("ix_ready_jobs_status_id", "status", "id"),
    sa.Index("ix_ready_jobs_run_id", "run_id"),
)

#: The lines a claimed attempt printed, on their way from its worker to the run's engine
#: (which stores them as the run's log, masked, and deletes them).
ready_job_lines = sa.Table(
    "ready_job_lines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ready_job_id", sa.Integer, sa.ForeignKey("ready_jobs.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("stream", sa.String(6), nullable=False),
    sa.Column("line", LongText, nullable=False),
    sa.Index("ix_ready_job_lines_ready_job_id_seq", "ready_job_id", "seq"),
)
