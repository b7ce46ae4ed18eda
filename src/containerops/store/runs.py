"""Runs: numbering and recording a new run with its jobs, finding one by id or
``FLOW#NUMBER``, listing and reading runs with their jobs, history and attempts; and the
server's side of them: what started a run, settling the ones a stopped server left
unfinished, cancelling one still queued.

``Store.create_run``, ``Store.get_run`` and ``Store.list_runs`` are this module's functions
(most parts that hold a store read runs); the rest is called as ``runs.<name>(store, ...)``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store.ownership import finish_runs, owner_alive
from containerops.store.rows import JobRow, NewRun, RunRow, StoreError
from containerops.store.values import MAX_ID, aware, new_id, utcnow
from containerops.timestamps import rfc3339

if TYPE_CHECKING:  # for annotations only: store.py binds this module's functions as methods
    from containerops.store.store import Store

_RUN_REF = re.compile(r"^(?P<uri>[^#]+)#(?P<number>\d+)$")
#: Run states a server process owns while it lives; found without a live owner, another takes them.
_ORPHANED = ("pending", "running", "paused")


def create_run(
    store: Store,
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
            with store.database.begin() as conn:
                # Creators of one flow's runs take turns on its row (PostgreSQL, MySQL; SQLite
                # has one writer anyway): a number is computed by one at a time, not retried
                # by all but one of them.
                conn.execute(sa.select(t.flows.c.id).where(t.flows.c.id == flow_id).with_for_update())
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
                ids = _insert_jobs(conn, run_id, jobs, 0)
            return NewRun(id=run_id, number=number, uid=uid, job_ids=ids)
        except sa.exc.IntegrityError:
            continue
    raise StoreError("could not number the run: too many runs of this flow started at once")


def add_jobs(store: Store, run_id: int, jobs: list[tuple[str, str | None]]) -> dict[str, int]:
    """Record more pending jobs of a running run, after its others (the instances of a
    matrix made from an earlier job's output); their ids by path."""
    with store.database.begin() as conn:
        last = conn.execute(
            sa.select(sa.func.max(t.jobs.c.position)).where(t.jobs.c.run_id == run_id)
        ).scalar()
        start = (last if last is not None else -1) + 1
        return _insert_jobs(conn, run_id, jobs, start)


def _insert_jobs(
    conn: sa.Connection, run_id: int, jobs: list[tuple[str, str | None]], start: int
) -> dict[str, int]:
    """Insert the pending jobs (numbered from ``start``); their ids by path. In one statement
    where the database returns what a many-row insert made (PostgreSQL, SQLite, MariaDB),
    else with a query after it (MySQL, TiDB)."""
    if not jobs:
        return {}
    rows = _pending_jobs(run_id, jobs, start)
    if conn.dialect.insert_executemany_returning:
        made = conn.execute(t.jobs.insert().returning(t.jobs.c.path, t.jobs.c.id), rows).all()
    else:
        conn.execute(t.jobs.insert(), rows)
        made = conn.execute(
            sa.select(t.jobs.c.path, t.jobs.c.id).where(t.jobs.c.run_id == run_id, t.jobs.c.position >= start)
        ).all()
    return {row.path: row.id for row in made}


def _pending_jobs(run_id: int, jobs: list[tuple[str, str | None]], start: int) -> list[dict[str, Any]]:
    """Rows of new pending jobs, ``(path, image)`` each, numbered in order from ``start``."""
    return [
        {
            "run_id": run_id,
            "path": path,
            "position": start + offset,
            "image": image,
            "status": "pending",
            "attempts": 0,
            "outputs": {},
        }
        for offset, (path, image) in enumerate(jobs)
    ]


def resolve_run(store: Store, ref: str) -> int:
    """A run id from ``ID`` or ``namespace/repository/flow#NUMBER``."""
    ref = ref.strip()
    match = _RUN_REF.match(ref)
    number = ref if ref.isdigit() else match["number"] if match else "0"
    if int(number) > MAX_ID:  # names no run, and would overflow the query
        raise StoreError(f"no run {ref}; `coops runs list` shows the runs there are")
    if ref.isdigit():
        query = sa.select(t.runs.c.id).where(t.runs.c.id == int(ref))
    elif match is None:
        raise StoreError(f"{ref!r} is not a run: give its id (42) or FLOW-URI#NUMBER (demo/hello/ci#3)")
    else:
        query = (
            sa.select(t.runs.c.id)
            .join(t.flows, t.flows.c.id == t.runs.c.flow_id)
            .where(t.flows.c.uri == match["uri"], t.runs.c.number == int(match["number"]))
        )
    with store.autocommit.connect() as conn:
        found = conn.execute(query).scalar()
    if found is None:
        raise StoreError(f"no run {ref}; `coops runs list` shows the runs there are")
    return int(found)


def _run_query() -> sa.Select[Any]:
    return (
        sa.select(t.runs, t.flows.c.uri, t.flow_versions.c.version.label("flow_version"))
        .join(t.flows, t.flows.c.id == t.runs.c.flow_id)
        .join(t.flow_versions, t.flow_versions.c.id == t.runs.c.flow_version_id)
    )


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


def _job_row(row: Any) -> JobRow:
    return JobRow(
        id=row.id,
        path=row.path,
        position=row.position,
        image=row.image,
        status=row.status,
        reason=row.reason,
        exit_code=row.exit_code,
        attempts=row.attempts,
        outputs=row.outputs or {},
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
    )


def list_runs(
    store: Store,
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
    query = _run_query().order_by(t.runs.c.id.desc()).limit(limit)
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
    with store.autocommit.connect() as conn:
        return [_run_row(row) for row in conn.execute(query)]


def get_run(store: Store, run_id: int, *, with_jobs: bool = True) -> RunRow:
    with store.autocommit.connect() as conn:
        row = conn.execute(_run_query().where(t.runs.c.id == run_id)).first()
        if row is None:
            raise StoreError(f"no run with id {run_id}")
        run = _run_row(row)
        if with_jobs:
            jobs = sa.select(t.jobs).where(t.jobs.c.run_id == run_id).order_by(t.jobs.c.position)
            run.jobs = [_job_row(job) for job in conn.execute(jobs)]
    return run


def _run_columns(store: Store, run_id: int, *columns: sa.Column[Any]) -> Any:
    with store.autocommit.connect() as conn:
        row = conn.execute(sa.select(*columns).where(t.runs.c.id == run_id)).first()
    if row is None:
        raise StoreError(f"no run with id {run_id}")
    return row


def run_origin(store: Store, run_id: int) -> tuple[dict[str, Any] | None, int | None]:
    """``(trigger, rerun_of)`` of a run; ``(None, None)`` for runs ``coops run`` started."""
    row = _run_columns(store, run_id, t.runs.c.trigger, t.runs.c.rerun_of)
    return row.trigger, row.rerun_of


def run_flow_version(store: Store, run_id: int) -> tuple[int, int]:
    """``(flow id, flow version id)`` a run ran."""
    row = _run_columns(store, run_id, t.runs.c.flow_id, t.runs.c.flow_version_id)
    return int(row.flow_id), int(row.flow_version_id)


def state_changes(store: Store, run_id: int) -> list[dict[str, Any]]:
    """The run's history: every state change of the run and its jobs, in order (as JSON
    shows it: times in RFC 3339)."""
    return [change for _, change in state_changes_after(store, run_id)]


def state_changes_after(
    store: Store, run_id: int, after: int = 0, limit: int | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """The run's state changes with an id above ``after``, oldest first, each with its id
    (for a stream that resumes where it stopped)."""
    query = (
        sa.select(t.state_changes, t.jobs.c.path)
        .outerjoin(t.jobs, t.jobs.c.id == t.state_changes.c.job_id)
        .where(t.state_changes.c.run_id == run_id, t.state_changes.c.id > after)
        .order_by(t.state_changes.c.id)
        .limit(limit)
    )
    with store.autocommit.connect() as conn:
        return [
            (
                row.id,
                {
                    "job": row.path,
                    "attempt": row.attempt,
                    "status": row.status,
                    "reason": row.reason,
                    "at": rfc3339(row.at),
                },
            )
            for row in conn.execute(query)
        ]


def attempts(store: Store, run_id: int) -> list[dict[str, Any]]:
    """Every attempt of every job of the run, job by job (as JSON shows them)."""
    query = (
        sa.select(t.job_attempts, t.jobs.c.path)
        .join(t.jobs, t.jobs.c.id == t.job_attempts.c.job_id)
        .where(t.job_attempts.c.run_id == run_id)
        .order_by(t.jobs.c.position, t.job_attempts.c.attempt)
    )
    with store.autocommit.connect() as conn:
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
                # lines printed past the log's cap: counted, not stored
                "log_unstored": row.log_unstored or 0,
            }
            for row in conn.execute(query)
        ]


def attempts_so_far(store: Store, run_id: int) -> dict[int, tuple[int, datetime | None]]:
    """Per job id: how many of its attempts failed, and when its latest attempt started.
    An engine taking up the run counts the retries those spent, and an attempt it follows
    again keeps the time it has had against its job's timeout."""
    columns = t.job_attempts.c
    query = sa.select(columns.job_id, columns.attempt, columns.status, columns.started_at).where(
        columns.run_id == run_id
    )
    found: dict[int, tuple[int, datetime | None]] = {}
    latest: dict[int, int] = {}
    with store.autocommit.connect() as conn:
        for row in conn.execute(query):
            failed, started = found.get(row.job_id, (0, None))
            failed += row.status == "failure"
            if row.attempt >= latest.get(row.job_id, 0):
                latest[row.job_id], started = row.attempt, aware(row.started_at)
            found[row.job_id] = (failed, started)
    return found


# -- the server's runs -----------------------------------------------------------------
def mark_server_run(store: Store, run_id: int, trigger: dict[str, Any], rerun_of: int | None) -> None:
    """Record what started a run; a run with a trigger belongs to the server."""
    with store.database.begin() as conn:
        conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(trigger=trigger, rerun_of=rerun_of))


def claim_orphaned_server_runs(store: Store, owner: str) -> list[tuple[int, str, str]]:
    """Take over the server runs that no live process owns: queued, running or paused when
    their server died (a server sharing the store with this one keeps its own). Each is
    claimed by a compare-and-set of its owner, so two servers starting at once never both
    take one. (id, uid, status) of those this ``owner`` now holds, oldest first."""
    with store.autocommit.connect() as conn:
        rows = conn.execute(
            sa.select(t.runs.c.id, t.runs.c.uid, t.runs.c.status, t.runs.c.owner, t.runs.c.heartbeat_at)
            .where(t.runs.c.trigger.is_not(None), t.runs.c.status.in_(_ORPHANED))
            .order_by(t.runs.c.id)
        ).all()
    claimed: list[tuple[int, str, str]] = []
    for row in rows:
        # a run recorded before runs had owners was this store's only server's
        if row.owner is not None and owner_alive(row.owner, row.heartbeat_at):
            continue
        same_owner = t.runs.c.owner.is_(None) if row.owner is None else t.runs.c.owner == row.owner
        with store.database.begin() as conn:
            taken = conn.execute(
                t.runs.update()
                .where(t.runs.c.id == row.id, same_owner, t.runs.c.status.in_(_ORPHANED))
                .values(owner=owner, heartbeat_at=utcnow())
            ).rowcount
        if taken == 1:
            claimed.append((row.id, row.uid, row.status))
    return claimed


def beat(store: Store, run_ids: list[int], owner: str) -> None:
    """``owner`` is alive and holds these runs (a server's queued runs, which no engine
    beats for yet): no server elsewhere takes them over as orphans."""
    if run_ids:
        with store.database.begin() as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id.in_(run_ids), t.runs.c.owner == owner)
                .values(heartbeat_at=utcnow())
            )


def release_runs(store: Store, run_ids: list[int]) -> None:
    """A stopping server lets go of its paused runs: no process owns them until a server
    takes them up (:func:`claim_orphaned_server_runs`)."""
    if run_ids:
        with store.database.begin() as conn:
            conn.execute(t.runs.update().where(t.runs.c.id.in_(run_ids)).values(owner=None))


def cancel_queued_run(store: Store, run_id: int, reason: str) -> None:
    """A run cancelled before it got a slot (no job ever ran): cancelled, every job skipped."""
    with store.database.begin() as conn:
        finish_runs(conn, [run_id], "cancelled", reason)
