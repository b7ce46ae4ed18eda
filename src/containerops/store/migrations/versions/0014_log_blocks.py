"""log lines in compressed blocks; an attempt's count of lines past its log's cap

A row per log line cost about 85 bytes a line on SQLite and one insert each. Lines are
now kept as zstd blocks of consecutive lines of one job attempt (``log_blocks``, see
``store/logblocks.py``), numbered per run: each block holds lines ``first_line`` to
``last_line``. The lines already stored are moved into blocks, run by run in the order
they were stored (so each stream of each job keeps its order), and ``log_lines`` goes.

``job_attempts.log_unstored``: lines an attempt printed past its log's cap (counted, not
stored), so that the job's record says so.

On MySQL the times are ``DATETIME(6)`` and the blocks ``LONGBLOB`` (see 0013).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 09:40:00
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from containerops.store import logblocks

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
_BLOB = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
#: Old rows read at a time.
_PAGE = 50_000

_lines = sa.table(
    "log_lines",
    sa.column("id", sa.Integer),
    sa.column("run_id", sa.Integer),
    sa.column("job_id", sa.Integer),
    sa.column("attempt", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("at", sa.String),
    sa.column("stream", sa.String),
    sa.column("line", sa.Text),
)
_blocks = sa.table(
    "log_blocks",
    sa.column("id", sa.Integer),
    sa.column("run_id", sa.Integer),
    sa.column("job_id", sa.Integer),
    sa.column("attempt", sa.Integer),
    sa.column("first_line", sa.BigInteger),
    sa.column("last_line", sa.BigInteger),
    sa.column("first_seq", sa.Integer),
    sa.column("first_at", _TIME),
    sa.column("last_at", _TIME),
    sa.column("chars", sa.BigInteger),
    sa.column("data", _BLOB),
)


def _time(value: Any) -> datetime:
    """A stored time as the driver returns it: text on SQLite (RFC 3339, or the naive form of
    stores before 0009), a datetime elsewhere; naive means UTC."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def upgrade() -> None:
    op.create_table(
        "log_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("first_line", sa.BigInteger(), nullable=False),
        sa.Column("last_line", sa.BigInteger(), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("first_at", _TIME, nullable=False),
        sa.Column("last_at", _TIME, nullable=False),
        sa.Column("chars", sa.BigInteger(), nullable=False),
        sa.Column("data", _BLOB, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_log_blocks_job_id_jobs")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_log_blocks_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_blocks")),
        sa.UniqueConstraint("run_id", "last_line", name=op.f("uq_log_blocks_run_id_last_line")),
    )
    with op.batch_alter_table("log_blocks", schema=None) as batch_op:
        batch_op.create_index("ix_log_blocks_job_id_last_line", ["job_id", "last_line"], unique=False)
    with op.batch_alter_table("job_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_unstored", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    for run_id in bind.execute(sa.select(_lines.c.run_id).distinct().order_by(_lines.c.run_id)).scalars():
        rows = [_block_row(run_id, first, group) for first, group in _groups(bind, run_id)]
        for start in range(0, len(rows), 100):
            bind.execute(_blocks.insert(), rows[start : start + 100])
    op.drop_table("log_lines")  # its indexes with it (MySQL keeps one a foreign key needs)


def _groups(bind: sa.Connection, run_id: int) -> Iterator[tuple[int, list[Any]]]:
    """The run's old rows in id order, as (first line number, rows) of one job attempt with
    consecutive ``seq``, at most a block's size each."""
    c = _lines.c
    after, number, first = 0, 0, 1
    group: list[Any] = []
    columns = (c.id, c.job_id, c.attempt, c.seq, c.at, c.stream, c.line)
    while True:
        page = bind.execute(
            sa.select(*columns).where(c.run_id == run_id, c.id > after).order_by(c.id).limit(_PAGE)
        ).all()
        if not page:
            break
        for row in page:
            number += 1
            if group:
                last = group[-1]
                if (row[1], row[2], row[3]) != (last[1], last[2], last[3] + 1) or len(
                    group
                ) >= logblocks.MAX_LINES:
                    yield first, group
                    group = []
            if not group:
                first = number
            group.append(row)
        after = page[-1][0]
    if group:
        yield first, group


def _block_row(run_id: int, first: int, rows: list[Any]) -> dict[str, Any]:
    times = [_time(row[4]) for row in rows]
    lines = [str(row[6]) for row in rows]
    return {
        "run_id": run_id,
        "job_id": rows[0][1],
        "attempt": rows[0][2],
        "first_line": first,
        "last_line": first + len(rows) - 1,
        "first_seq": rows[0][3],
        "first_at": times[0],
        "last_at": times[-1],
        "chars": sum(map(len, lines)),
        "data": logblocks.encode(lines, [str(row[5]) for row in rows], times),
    }


def downgrade() -> None:
    op.create_table(
        "log_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("stream", sa.String(length=6), nullable=False),
        sa.Column("line", _TEXT, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_log_lines_job_id_jobs")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_log_lines_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_lines")),
    )
    with op.batch_alter_table("log_lines", schema=None) as batch_op:
        batch_op.create_index("ix_log_lines_run_id_id", ["run_id", "id"], unique=False)
        batch_op.create_index("ix_log_lines_job_id", ["job_id"], unique=False)
    bind = op.get_bind()
    b = _blocks.c
    old = sa.table(
        "log_lines",
        *(sa.column(name) for name in ("run_id", "job_id", "attempt", "seq", "stream", "line", "at")),
    )
    as_text = bind.dialect.name == "sqlite"  # SQLite holds RFC 3339 text (0009)
    query = sa.select(b.run_id, b.job_id, b.attempt, b.first_seq, b.data).order_by(b.run_id, b.last_line)
    for run_id, job_id, attempt, first_seq, data in bind.execute(query).all():
        block = logblocks.decode(data)
        times: list[Any] = [logblocks.from_micros(value) for value in block.micros_of_each()]
        if as_text:
            times = [at.isoformat(timespec="microseconds") for at in times]
        rows = [
            {
                "run_id": run_id,
                "job_id": job_id,
                "attempt": attempt,
                "seq": first_seq + index,
                "at": at,
                "stream": stream,
                "line": line,
            }
            for index, (line, stream, at) in enumerate(
                zip(block.lines(), block.stream_of_each(), times, strict=True)
            )
        ]
        bind.execute(old.insert(), rows)
    op.drop_table("log_blocks")
    with op.batch_alter_table("job_attempts", schema=None) as batch_op:
        batch_op.drop_column("log_unstored")
