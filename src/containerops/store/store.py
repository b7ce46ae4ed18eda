"""The store's API: saving flows and runs, and reading them back."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.db import create_db_engine, migrate
from containerops.store.recorder import Recorder
from containerops.store.rows import JobRow, LogRow, NewRun, RunRow, StoreError
from containerops.store.values import MAX_ID, aware, new_id, utcnow
from containerops.timestamps import rfc3339


def _stored_time(value: Any) -> datetime:
    """A timestamp as a database returns it, read as UTC: ISO 8601 text from SQLite, a
    datetime from databases with a real type."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return utcnow()
    else:
        parsed = value
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


_RUN_REF = re.compile(r"^(?P<uri>[^#]+)#(?P<number>\d+)$")


class Store:
    """A handle on the database; cheap to keep for the life of a process."""

    def __init__(self, database: sa.Engine) -> None:
        #: SQLAlchemy's connection pool; named so it is not read as the workflow engine.
        self.database = database

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Open (and create or upgrade) the database at ``url`` or the default."""
        database = create_db_engine(url)
        migrate(database)
        return cls(database)

    def close(self) -> None:
        self.database.dispose()

    # -- flows -------------------------------------------------------------
    def save_flow(self, uri: str, source: str, fmt: str) -> tuple[int, int, int]:
        """Keep this definition of the flow; a changed source makes a new version.

        Returns ``(flow_id, flow_version_id, version_number)``.
        """
        digest = hashlib.sha256(source.encode()).hexdigest()
        now = utcnow()
        with self.database.begin() as conn:
            flow_id = conn.execute(sa.select(t.flows.c.id).where(t.flows.c.uri == uri)).scalar()
            if flow_id is None:
                flow_id = new_id(conn.execute(t.flows.insert().values(uri=uri, created_at=now)))
            latest = conn.execute(
                sa.select(t.flow_versions.c.id, t.flow_versions.c.version, t.flow_versions.c.digest)
                .where(t.flow_versions.c.flow_id == flow_id)
                .order_by(t.flow_versions.c.version.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.digest == digest:
                return flow_id, latest.id, latest.version
            version = 1 if latest is None else latest.version + 1
            version_id = new_id(
                conn.execute(
                    t.flow_versions.insert().values(
                        flow_id=flow_id,
                        version=version,
                        digest=digest,
                        format=fmt,
                        source=source,
                        created_at=now,
                    )
                )
            )
            return flow_id, version_id, version

    def flow_source(self, run_id: int) -> str:
        with self.database.connect() as conn:
            source = conn.execute(
                sa.select(t.flow_versions.c.source)
                .join(t.runs, t.runs.c.flow_version_id == t.flow_versions.c.id)
                .where(t.runs.c.id == run_id)
            ).scalar()
        if source is None:
            raise StoreError(f"no run with id {run_id}")
        return str(source)

    # -- runs --------------------------------------------------------------
    def create_run(
        self,
        flow_id: int,
        flow_version_id: int,
        executor: str,
        params: dict[str, Any],
        jobs: list[tuple[str, str | None]],
        *,
        columns: Mapping[str, Any] | None = None,
    ) -> NewRun:
        """Record a new pending run and all its jobs; number it within its flow.

        ``columns`` sets more columns of the run row in the same insert.
        """
        now = utcnow()
        for _ in range(20):  # another process may take the same number: try the next
            try:
                with self.database.begin() as conn:
                    number = (
                        conn.execute(
                            sa.select(sa.func.max(t.runs.c.number)).where(t.runs.c.flow_id == flow_id)
                        ).scalar()
                        or 0
                    ) + 1
                    uid = uuid.uuid4().hex
                    run_id = new_id(
                        conn.execute(
                            t.runs.insert().values(
                                flow_id=flow_id,
                                flow_version_id=flow_version_id,
                                number=number,
                                uid=uid,
                                status="pending",
                                executor=executor,
                                params=params,
                                created_at=now,
                                **(columns or {}),
                            )
                        )
                    )
                    conn.execute(t.state_changes.insert().values(run_id=run_id, status="pending", at=now))
                    if jobs:
                        conn.execute(
                            t.jobs.insert(),
                            [
                                {
                                    "run_id": run_id,
                                    "path": path,
                                    "position": position,
                                    "image": image,
                                    "status": "pending",
                                    "attempts": 0,
                                    "outputs": {},
                                }
                                for position, (path, image) in enumerate(jobs)
                            ],
                        )
                    ids = conn.execute(
                        sa.select(t.jobs.c.path, t.jobs.c.id).where(t.jobs.c.run_id == run_id)
                    ).all()
                return NewRun(id=run_id, number=number, uid=uid, job_ids={row.path: row.id for row in ids})
            except sa.exc.IntegrityError:
                continue
        raise StoreError("could not number the run: too many runs of this flow started at once")

    def recorder(self, run_id: int, *, mask: Callable[[str], str] | None = None) -> Recorder:
        return Recorder(self.database, run_id, mask=mask)

    def resolve_run(self, ref: str) -> int:
        """A run id from ``ID`` or ``namespace/repository/flow#NUMBER``."""
        ref = ref.strip()
        match = _RUN_REF.match(ref)
        number = ref if ref.isdigit() else match["number"] if match else "0"
        if int(number) > MAX_ID:  # names no run, and would overflow the query
            raise StoreError(f"no run {ref}; `coops runs list` shows the runs there are")
        with self.database.connect() as conn:
            if ref.isdigit():
                found = conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == int(ref))).scalar()
            else:
                if match is None:
                    raise StoreError(
                        f"{ref!r} is not a run: give its id (42) or FLOW-URI#NUMBER (demo/hello/ci#3)"
                    )
                found = conn.execute(
                    sa.select(t.runs.c.id)
                    .join(t.flows, t.flows.c.id == t.runs.c.flow_id)
                    .where(t.flows.c.uri == match["uri"], t.runs.c.number == int(match["number"]))
                ).scalar()
        if found is None:
            raise StoreError(f"no run {ref}; `coops runs list` shows the runs there are")
        return int(found)

    def _run_query(self) -> sa.Select[Any]:
        return (
            sa.select(
                t.runs,
                t.flows.c.uri,
                t.flow_versions.c.version.label("flow_version"),
            )
            .join(t.flows, t.flows.c.id == t.runs.c.flow_id)
            .join(t.flow_versions, t.flow_versions.c.id == t.runs.c.flow_version_id)
        )

    @staticmethod
    def _run_row(row: Any) -> RunRow:
        return RunRow(
            id=row.id,
            uri=row.uri,
            number=row.number,
            uid=row.uid,
            flow_version=row.flow_version,
            status=row.status,
            reason=row.reason,
            executor=row.executor,
            params=row.params or {},
            created_at=aware(row.created_at) or utcnow(),
            started_at=aware(row.started_at),
            finished_at=aware(row.finished_at),
        )

    def list_runs(
        self,
        *,
        limit: int = 20,
        uri: str | None = None,
        status: str | None = None,
        number: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        namespaces: Iterable[str] | None = None,
        hide_namespaces: Iterable[str] = (),
    ) -> list[RunRow]:
        """Newest first. ``since``/``until`` bound the creation time; ``before_id`` pages
        (runs older than that id); ``namespaces`` keeps runs of flows in those namespaces,
        ``hide_namespaces`` leaves out those of these."""
        query = self._run_query().order_by(t.runs.c.id.desc()).limit(limit)
        if uri:
            query = query.where(t.flows.c.uri == uri)
        if status:
            query = query.where(t.runs.c.status == status)
        if number is not None:
            query = query.where(t.runs.c.number == number)
        if since is not None:
            query = query.where(t.runs.c.created_at >= since)
        if until is not None:
            query = query.where(t.runs.c.created_at < until)
        if before_id is not None:
            query = query.where(t.runs.c.id < before_id)
        if namespaces is not None:
            prefixes = [t.flows.c.uri.startswith(f"{ns}/", autoescape=True) for ns in namespaces]
            query = query.where(sa.or_(sa.false(), *prefixes))
        for hidden in hide_namespaces:
            query = query.where(sa.not_(t.flows.c.uri.startswith(f"{hidden}/", autoescape=True)))
        with self.database.connect() as conn:
            return [self._run_row(row) for row in conn.execute(query)]

    def get_run(self, run_id: int, *, with_jobs: bool = True) -> RunRow:
        with self.database.connect() as conn:
            row = conn.execute(self._run_query().where(t.runs.c.id == run_id)).first()
            if row is None:
                raise StoreError(f"no run with id {run_id}")
            run = self._run_row(row)
            if with_jobs:
                run.jobs = [
                    JobRow(
                        id=j.id,
                        path=j.path,
                        position=j.position,
                        image=j.image,
                        status=j.status,
                        reason=j.reason,
                        exit_code=j.exit_code,
                        attempts=j.attempts,
                        outputs=j.outputs or {},
                        started_at=aware(j.started_at),
                        finished_at=aware(j.finished_at),
                    )
                    for j in conn.execute(
                        sa.select(t.jobs).where(t.jobs.c.run_id == run_id).order_by(t.jobs.c.position)
                    )
                ]
        return run

    def run_origin(self, run_id: int) -> tuple[dict[str, Any] | None, int | None]:
        """``(trigger, rerun_of)`` of a run; ``(None, None)`` for runs ``coops run`` started."""
        row = self._run_columns(run_id, t.runs.c.trigger, t.runs.c.rerun_of)
        return row.trigger, row.rerun_of

    def run_flow_version(self, run_id: int) -> tuple[int, int]:
        """``(flow id, flow version id)`` a run ran."""
        row = self._run_columns(run_id, t.runs.c.flow_id, t.runs.c.flow_version_id)
        return int(row.flow_id), int(row.flow_version_id)

    def _run_columns(self, run_id: int, *columns: sa.Column[Any]) -> Any:
        with self.database.connect() as conn:
            row = conn.execute(sa.select(*columns).where(t.runs.c.id == run_id)).first()
        if row is None:
            raise StoreError(f"no run with id {run_id}")
        return row

    def state_changes(self, run_id: int) -> list[dict[str, Any]]:
        """The run's history: every state change of the run and its jobs, in order (as JSON
        shows it: times in RFC 3339)."""
        query = (
            sa.select(t.state_changes, t.jobs.c.path)
            .outerjoin(t.jobs, t.jobs.c.id == t.state_changes.c.job_id)
            .where(t.state_changes.c.run_id == run_id)
            .order_by(t.state_changes.c.id)
        )
        with self.database.connect() as conn:
            return [
                {
                    "job": row.path,
                    "attempt": row.attempt,
                    "status": row.status,
                    "reason": row.reason,
                    "at": rfc3339(row.at),
                }
                for row in conn.execute(query)
            ]

    def attempts(self, run_id: int) -> list[dict[str, Any]]:
        query = (
            sa.select(t.job_attempts, t.jobs.c.path)
            .join(t.jobs, t.jobs.c.id == t.job_attempts.c.job_id)
            .where(t.job_attempts.c.run_id == run_id)
            .order_by(t.jobs.c.position, t.job_attempts.c.attempt)
        )
        with self.database.connect() as conn:
            return [
                {
                    "job": row.path,
                    "attempt": row.attempt,
                    "status": row.status,
                    "exit_code": row.exit_code,
                    "reason": row.reason,
                    "outputs": row.outputs or {},
                    "started_at": rfc3339(row.started_at),
                    "finished_at": rfc3339(row.finished_at),
                }
                for row in conn.execute(query)
            ]

    def log_lines(
        self, run_id: int, *, job_path: str | None = None, after_id: int = 0, limit: int = 10_000
    ) -> list[LogRow]:
        """Log lines of a run (or one job) after ``after_id``, in the order they were stored.

        ``coops logs -f`` reads a chatty job's lines as fast as they are stored, so
        this is lean: the run's job paths are read once, not joined into every row,
        and timestamps are parsed by ``datetime.fromisoformat`` (what SQLite holds is
        ISO 8601) rather than per row by the column type.
        """
        with self.database.connect() as conn:
            jobs = sa.select(t.jobs.c.id, t.jobs.c.path).where(t.jobs.c.run_id == run_id)
            paths: dict[int, str] = {row.id: row.path for row in conn.execute(jobs)}
            query = (
                sa.select(
                    t.log_lines.c.id,
                    t.log_lines.c.job_id,
                    t.log_lines.c.attempt,
                    t.log_lines.c.seq,
                    sa.type_coerce(t.log_lines.c.at, sa.String).label("at"),
                    t.log_lines.c.stream,
                    t.log_lines.c.line,
                )
                .where(t.log_lines.c.run_id == run_id, t.log_lines.c.id > after_id)
                .order_by(t.log_lines.c.id)
                .limit(limit)
            )
            if job_path:
                job_ids = [job_id for job_id, path in paths.items() if path == job_path]
                query = query.where(t.log_lines.c.job_id.in_(job_ids))
            rows = conn.execute(query).all()
        found: list[LogRow] = []
        last_text: Any = None
        last_time = utcnow()
        for row_id, job_id, attempt, seq, at, stream, line in rows:
            if at != last_text:  # the lines of one read share their time: parse it once
                last_text, last_time = at, _stored_time(at)
            found.append(LogRow(row_id, paths[job_id], attempt, seq, last_time, stream, line))
        return found

    def job_paths(self, run_id: int) -> list[str]:
        with self.database.connect() as conn:
            return list(
                conn.execute(
                    sa.select(t.jobs.c.path).where(t.jobs.c.run_id == run_id).order_by(t.jobs.c.position)
                ).scalars()
            )
