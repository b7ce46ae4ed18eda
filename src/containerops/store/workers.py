"""Workers and the job attempts they lease: the queue between a run's engine and ``coops worker``.

A run's engine puts each attempt it wants run as a ``ready_jobs`` row; a worker whose
labels match claims it with a lease (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL and MySQL/MariaDB 10.6+, so that claimers never queue behind each other's
locks; a compare-and-set from ``ready`` on every database, SQLite's only guard), renews
the lease with its heartbeat, streams the attempt's lines and writes how it ended. Every
change of hands (a claim, a lease found expired, a cancel) moves the row's ``fence`` on,
and a worker's every write first checks, in the same transaction, that the row is still
``claimed`` under the fence it claimed with: a worker whose lease expired can write no
line, result or output for that attempt any more.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from containerops.store import schema as t
from containerops.store.values import new_id, utcnow
from containerops.timestamps import rfc3339

if TYPE_CHECKING:
    from containerops.store.store import Store

#: A worker renews its leases this often (seconds) ...
HEARTBEAT_EVERY = 1.0
#: ... and a lease not renewed for this long (``COOPS_LEASE_SECONDS``) is taken as lost.
DEFAULT_LEASE = 10.0
#: Rows a claimer looks at at once, to find one its labels allow.
CLAIM_WINDOW = 32
#: The PostgreSQL channel an attempt put up is announced on (LISTEN/NOTIFY), its id the
#: payload: idle workers wake at once instead of at their next poll ...
READY_CHANNEL = "coops_ready"
#: ... and the one a claim announces the ids it took on: a worker that was not the first to
#: be asked for an attempt (``containerops.workers.wake``) leaves one taken already alone.
CLAIMED_CHANNEL = "coops_claimed"
#: Where an attempt stands. ``adrift``: its worker is gone but its container may run on:
#: a worker on that machine claims it again and re-attaches (executors that can: below).
READY, CLAIMED, DONE, LOST, CANCELLED = "ready", "claimed", "done", "lost", "cancelled"
ADRIFT = "adrift"
#: The executors whose jobs outlive their worker (a container, a swarm service, a Kubernetes
#: Job): theirs go adrift, not lost, and a worker of the same executor re-attaches.
REATTACHING = frozenset({"docker", "swarm", "kubernetes"})
#: Of those, the ones whose jobs run on the worker's own machine: re-attached from there only.
MACHINE_BOUND = frozenset({"docker"})


def labels_text(labels: Mapping[str, str]) -> str:
    """``gpu=true,zone=a``: labels as the CLI reads and shows them."""
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def labels_match(wanted: Mapping[str, str], offered: Mapping[str, str]) -> bool:
    """Whether a worker offering ``offered`` may take a job that wants ``wanted``: it has
    every one of the job's labels, with the same value."""
    return all(offered.get(key) == value for key, value in wanted.items())


@dataclass(frozen=True, slots=True)
class Claim:
    """An attempt a worker leased: what to run, and the fence its writes must carry."""

    id: int
    fence: int
    run_id: int
    path: str
    attempt: int
    spec: dict[str, Any]
    #: Claimed adrift: its container may run on; the worker re-attaches to it.
    reattach: bool = False


@dataclass(frozen=True, slots=True)
class Line:
    seq: int
    at: datetime
    stream: str
    text: str


@dataclass(frozen=True, slots=True)
class Progress:
    """What the engine waiting for an attempt reads: where it stands and its new lines."""

    status: str
    worker: str | None
    lease_until: datetime | None
    exit_code: int | None
    oom_killed: bool
    reason: str | None
    output_file: bytes | None
    lines: list[Line]


@dataclass(frozen=True, slots=True)
class WorkerRow:
    name: str
    labels: dict[str, str]
    slots: int
    executor: str
    running: int
    heartbeat_at: datetime
    live: bool

    def document(self) -> dict[str, Any]:
        """As ``coops workers list --json`` prints it and ``/api/v1/workers`` answers."""
        return {
            "name": self.name,
            "labels": self.labels,
            "slots": self.slots,
            "executor": self.executor,
            "running": self.running,
            "heartbeat_at": rfc3339(self.heartbeat_at),
            "live": self.live,
        }


# -- workers ------------------------------------------------------------------------------
def register(
    store: Store, name: str, *, labels: Mapping[str, str], slots: int, executor: str, process: str
) -> list[int]:
    """Record a worker as starting (again: a name comes back when its worker restarts). What
    an earlier process of that name still held is lost now, not at its lease's end: that
    process is gone, since its name is taken by this one. The ids of those attempts."""
    now = utcnow()
    values = dict(
        labels=dict(labels),
        slots=slots,
        executor=executor,
        process=process,
        started_at=now,
        heartbeat_at=now,
        stopped_at=None,
    )
    with store.database.begin() as conn:
        updated = conn.execute(t.workers.update().where(t.workers.c.name == name).values(**values))
        if not updated.rowcount:
            conn.execute(t.workers.insert().values(name=name, **values))
        reason = f"worker lost: {name} restarted while it ran the job"
        return _lose_claims(conn, name, reason, ADRIFT if executor in REATTACHING else LOST)


def left_behind(store: Store, name: str, *, reattach: bool = False) -> list[int]:
    """The attempts worker ``name`` took and has not cleared: what its earlier process, killed,
    may have left running. A worker starting again stops those before :func:`register` lets
    the ones it still holds go, so that no retry of one runs while it still does. With
    ``reattach`` those it held or that went adrift are not among them: a worker re-attaches."""
    unwanted = (READY, CLAIMED, ADRIFT) if reattach else (READY,)
    with store.autocommit.connect() as conn:
        query = sa.select(t.ready_jobs.c.id).where(
            t.ready_jobs.c.worker == name,
            t.ready_jobs.c.cleared.is_(False),
            t.ready_jobs.c.status.not_in(unwanted),
        )
        return list(conn.execute(query).scalars())


def cleared(store: Store, ready_ids: Collection[int]) -> None:
    """Nothing of these attempts runs any more on their worker's machine."""
    if ready_ids:
        with store.autocommit.begin() as conn:  # one statement
            conn.execute(t.ready_jobs.update().where(t.ready_jobs.c.id.in_(ready_ids)).values(cleared=True))


def stopped(store: Store, name: str) -> None:
    """The worker stopped: the attempts it still held are lost (their engines retry them)."""
    with store.database.begin() as conn:
        conn.execute(t.workers.update().where(t.workers.c.name == name).values(stopped_at=utcnow()))
        _lose_claims(conn, name, f"worker lost: {name} stopped while it ran the job")


def _lose_claims(conn: sa.Connection, name: str, reason: str, status: str = LOST) -> list[int]:
    """Every attempt ``name`` still holds becomes lost (or adrift); their ids."""
    held = (t.ready_jobs.c.worker == name, t.ready_jobs.c.status == CLAIMED)
    ids = list(conn.execute(sa.select(t.ready_jobs.c.id).where(*held)).scalars())
    if ids:
        conn.execute(
            t.ready_jobs.update()
            .where(t.ready_jobs.c.id.in_(ids), t.ready_jobs.c.status == CLAIMED)
            .values(status=status, fence=t.ready_jobs.c.fence + 1, finished_at=utcnow(), reason=reason)
        )
    return ids


def heartbeat(store: Store, name: str, held: Mapping[int, int], lease: float = DEFAULT_LEASE) -> set[int]:
    """The worker lives: its leases (ready job id -> fence) run ``lease`` seconds more. The
    ids of those it still holds; any other was taken from it (expired, cancelled)."""
    now = utcnow()
    with store.database.begin() as conn:
        conn.execute(t.workers.update().where(t.workers.c.name == name).values(heartbeat_at=now))
        if not held:
            return set()
        conn.execute(
            t.ready_jobs.update()
            .where(_held_by(held), t.ready_jobs.c.status == CLAIMED)
            .values(lease_until=now + timedelta(seconds=lease))
        )
        kept = conn.execute(
            sa.select(t.ready_jobs.c.id).where(_held_by(held), t.ready_jobs.c.status == CLAIMED)
        ).scalars()
        return set(kept)


def _held_by(held: Mapping[int, int]) -> sa.ColumnElement[bool]:
    return sa.or_(
        *(sa.and_(t.ready_jobs.c.id == key, t.ready_jobs.c.fence == fence) for key, fence in held.items())
    )


def _alive(expiry: float) -> sa.ColumnElement[bool]:
    """What a live worker is: one whose heartbeat came within ``expiry`` seconds."""
    return t.workers.c.heartbeat_at > utcnow() - timedelta(seconds=expiry)


def live_names(store: Store, expiry: float = DEFAULT_LEASE) -> list[str]:
    """The names of the workers alive, sorted."""
    with store.autocommit.connect() as conn:
        query = (
            sa.select(t.workers.c.name)
            .where(t.workers.c.stopped_at.is_(None), _alive(expiry))
            .order_by(t.workers.c.name)
        )
        return list(conn.execute(query).scalars())


def list_workers(store: Store, expiry: float = DEFAULT_LEASE) -> list[WorkerRow]:
    """Every worker that has not stopped, with the attempts it holds now."""
    running = (
        sa.select(t.ready_jobs.c.worker, sa.func.count().label("n"))
        .where(t.ready_jobs.c.status == CLAIMED)
        .group_by(t.ready_jobs.c.worker)
        .subquery()
    )
    with store.autocommit.connect() as conn:
        rows = conn.execute(
            sa.select(
                t.workers, sa.func.coalesce(running.c.n, 0).label("running"), _alive(expiry).label("alive")
            )
            .outerjoin(running, running.c.worker == t.workers.c.name)
            .where(t.workers.c.stopped_at.is_(None))
            .order_by(t.workers.c.name)
        ).all()
    return [
        WorkerRow(
            row.name,
            dict(row.labels),
            row.slots,
            row.executor,
            int(row.running),
            row.heartbeat_at,
            bool(row.alive),
        )
        for row in rows
    ]


def waiting_reason(store: Store, wanted: Mapping[str, str], expiry: float = DEFAULT_LEASE) -> str | None:
    """Why an attempt that wants ``wanted`` may wait for ever: no live worker could take it."""
    live = [row for row in list_workers(store, expiry) if row.live]
    if any(labels_match(wanted, row.labels) for row in live):
        return None
    if not wanted:
        return "no worker is running"
    return f"no worker with {labels_text(wanted)}"


# -- the engine's side: put an attempt up, follow it, take it back --------------------------
def enqueue(
    store: Store, run_uid: str, path: str, attempt: int, labels: Mapping[str, str], spec: Mapping[str, Any]
) -> int:
    """Put an attempt of run ``run_uid`` up for a worker whose labels include ``labels``."""
    row = t.ready_jobs.insert().values(
        run_id=sa.select(t.runs.c.id).where(t.runs.c.uid == run_uid).scalar_subquery(),
        path=path,
        attempt=attempt,
        labels=dict(labels),
        spec=dict(spec),
        status=READY,
        fence=0,
        created_at=utcnow(),
        oom_killed=False,
        cleared=False,
    )
    with store.autocommit.begin() as conn:  # one statement
        if store.database.dialect.name != "postgresql":
            return new_id(conn.execute(row))
        # one statement: the row, and its announcement (sent when the transaction commits)
        added = row.returning(t.ready_jobs.c.id).cte("added")
        announced = sa.select(added.c.id, _notify(READY_CHANNEL, added.c.id)).select_from(added)
        return int(conn.execute(announced).scalar_one())


def _notify(channel: str, ready_id: sa.ColumnElement[int]) -> sa.ColumnElement[Any]:
    """``pg_notify(channel, id)``: sent when the statement's transaction commits."""
    return sa.func.pg_notify(channel, sa.cast(ready_id, sa.Text))


@dataclass(frozen=True)
class News:
    """What a :class:`ReadyListener` heard: attempts put up, and attempts claimed."""

    put_up: frozenset[int]
    taken: frozenset[int]


class ReadyListener:
    """A PostgreSQL connection of its own listening on :data:`READY_CHANNEL` and
    :data:`CLAIMED_CHANNEL`: an idle worker waits on it rather than polling (MySQL/MariaDB
    and SQLite have no NOTIFY; they poll)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    @classmethod
    async def open(cls, store: Store) -> ReadyListener | None:
        """A listener on the store's database, or None when it cannot notify (not PostgreSQL)."""
        if store.database.dialect.name != "postgresql":
            return None
        import psycopg  # here: only a worker on PostgreSQL needs it, not every command's start-up

        args, options = store.database.dialect.create_connect_args(store.database.url)
        connection = await psycopg.AsyncConnection.connect(*args, **options, autocommit=True)
        await connection.execute(f"LISTEN {READY_CHANNEL}; LISTEN {CLAIMED_CHANNEL}")
        return cls(connection)

    async def news(self, timeout: float) -> News | None:
        """What is announced, waiting up to ``timeout`` seconds for it (None: nothing came);
        everything else already received is taken with it."""
        heard = [notice async for notice in self._connection.notifies(timeout=timeout, stop_after=1)]
        if not heard:
            return None
        heard += [notice async for notice in self._connection.notifies(timeout=0.0)]
        ids: dict[str, set[int]] = {READY_CHANNEL: set(), CLAIMED_CHANNEL: set()}
        for notice in heard:
            if notice.payload.isdigit():
                ids[notice.channel].add(int(notice.payload))
        return News(frozenset(ids[READY_CHANNEL]), frozenset(ids[CLAIMED_CHANNEL]))

    async def close(self) -> None:
        await self._connection.close()


def progress(store: Store, ready_id: int, after_seq: int) -> Progress:
    """Where the attempt stands, and its lines after ``after_seq``."""
    return progress_of(store, {ready_id: after_seq})[ready_id]


def progress_of(store: Store, after: Mapping[int, int]) -> dict[int, Progress]:
    """:func:`progress` of many attempts (ready job id -> lines seen) in two queries: what
    an engine following all its runs' attempts asks at each look."""
    if not after:
        return {}
    lines_table = t.ready_job_lines
    newer = sa.or_(
        *(sa.and_(lines_table.c.ready_job_id == key, lines_table.c.seq > seq) for key, seq in after.items())
    )
    with store.autocommit.connect() as conn:
        rows = conn.execute(sa.select(t.ready_jobs).where(t.ready_jobs.c.id.in_(list(after)))).all()
        lines = conn.execute(
            sa.select(
                lines_table.c.ready_job_id,
                lines_table.c.seq,
                lines_table.c.at,
                lines_table.c.stream,
                lines_table.c.line,
            )
            .where(newer)
            .order_by(lines_table.c.ready_job_id, lines_table.c.seq)
        ).all()
    by_job: dict[int, list[Line]] = {}
    for line in lines:
        by_job.setdefault(line.ready_job_id, []).append(Line(line.seq, line.at, line.stream, line.line))
    return {
        row.id: Progress(
            row.status,
            row.worker,
            row.lease_until,
            row.exit_code,
            bool(row.oom_killed),
            row.reason,
            None if row.output_file is None else base64.b64decode(row.output_file),
            by_job.get(row.id, []),
        )
        for row in rows
    }


def expire(store: Store, ready_id: int, reason: str) -> str | None:
    """Take a claimed attempt whose lease ran out from its worker: ``lost``, or ``adrift``
    when its worker's executor re-attaches (its container may run on). None if the lease
    was renewed or the attempt ended meanwhile."""
    now = utcnow()
    ran_on = (
        sa.select(t.workers.c.executor)
        .join(t.ready_jobs, t.ready_jobs.c.worker == t.workers.c.name)
        .where(t.ready_jobs.c.id == ready_id)
    )
    with store.database.begin() as conn:
        status = ADRIFT if conn.execute(ran_on).scalar() in REATTACHING else LOST
        taken = conn.execute(
            t.ready_jobs.update()
            .where(t.ready_jobs.c.id == ready_id, t.ready_jobs.c.status == CLAIMED)
            .where(t.ready_jobs.c.lease_until < now)
            .values(status=status, fence=t.ready_jobs.c.fence + 1, finished_at=now, reason=reason)
        ).rowcount
    return status if taken else None


def withdraw(store: Store, ready_id: int, reason: str) -> None:
    """The engine stops following an unfinished attempt: it is cancelled (its worker stops
    it at its next heartbeat), and the lines on their way are dropped. The lines of a done
    attempt stay until its run's end is recorded (the recorder drops them then): the engine
    may not have stored them yet, and a server taking the run over reads them from here."""
    with store.database.begin() as conn:
        conn.execute(
            t.ready_jobs.update()
            .where(t.ready_jobs.c.id == ready_id, t.ready_jobs.c.status.in_((READY, CLAIMED, ADRIFT)))
            .values(status=CANCELLED, fence=t.ready_jobs.c.fence + 1, finished_at=utcnow(), reason=reason)
        )
        conn.execute(t.ready_job_lines.delete().where(t.ready_job_lines.c.ready_job_id == ready_id))


def drop_run_lines(conn: sa.Connection, run_id: int) -> None:
    """In the transaction that ends run ``run_id``: the copies of its workers' lines, all
    in the run's log by then (before, a server taking the run over reads them from here)."""
    ours = sa.select(t.ready_jobs.c.id).where(t.ready_jobs.c.run_id == run_id)
    conn.execute(t.ready_job_lines.delete().where(t.ready_job_lines.c.ready_job_id.in_(ours)))


def find_attempt(store: Store, run_uid: str, path: str, attempt: int) -> int | None:
    """The ready job an engine put up for this attempt (the newest, if more), or None."""
    with store.autocommit.connect() as conn:
        query = (
            sa.select(t.ready_jobs.c.id)
            .join(t.runs, t.runs.c.id == t.ready_jobs.c.run_id)
            .where(t.runs.c.uid == run_uid, t.ready_jobs.c.path == path, t.ready_jobs.c.attempt == attempt)
            .order_by(t.ready_jobs.c.id.desc())
            .limit(1)
        )
        found = conn.execute(query).scalar()
    return None if found is None else int(found)


def ready_ids(store: Store, run_id: int) -> list[int]:
    """The attempts a run put up for workers, oldest first."""
    with store.autocommit.connect() as conn:
        query = (
            sa.select(t.ready_jobs.c.id).where(t.ready_jobs.c.run_id == run_id).order_by(t.ready_jobs.c.id)
        )
        return list(conn.execute(query).scalars())


def queue_depth(store: Store) -> int:
    with store.autocommit.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).where(t.ready_jobs.c.status == READY)).scalar() or 0
        )


# -- the worker's side: claim, stream, finish -------------------------------------------------
def claim(store: Store, worker: str, labels: Mapping[str, str], lease: float = DEFAULT_LEASE) -> Claim | None:
    """Lease the oldest ready attempt this worker's labels allow, or None."""
    taken = claim_many(store, worker, labels, 1, lease)
    return taken[0] if taken else None


def claim_adrift(
    store: Store,
    worker: str,
    labels: Mapping[str, str],
    *,
    executor: str,
    host: str,
    lease: float = DEFAULT_LEASE,
) -> Claim | None:
    """Lease an attempt gone adrift that this worker can follow again: its lost worker ran
    the same ``executor`` (on this ``host`` for a container on a machine's own Engine; from
    anywhere for a cluster's), and this worker's labels allow it. None if there is none."""
    adrift = (
        sa.select(t.ready_jobs.c.id, t.ready_jobs.c.labels, t.workers.c.process)
        .join(t.workers, t.workers.c.name == t.ready_jobs.c.worker)
        .where(t.ready_jobs.c.status == ADRIFT, t.workers.c.executor == executor)
        .order_by(t.ready_jobs.c.id)
        .limit(CLAIM_WINDOW)
    )
    with store.autocommit.connect() as conn:
        rows = conn.execute(adrift).all()
    for row in rows:
        here = executor not in MACHINE_BOUND or str(row.process).split(":", 1)[0] == host
        if here and labels_match(row.labels, labels):
            with store.database.begin() as conn:  # a compare-and-set from adrift: one taker
                taken = _take(conn, row.id, worker, lease, ADRIFT)
            if taken is not None:
                return taken
    return None


def stored_lines(store: Store, ready_id: int) -> list[str]:
    """The lines of an attempt its worker(s) stored so far, in order."""
    lines_table = t.ready_job_lines
    with store.autocommit.connect() as conn:
        query = (
            sa.select(lines_table.c.line)
            .where(lines_table.c.ready_job_id == ready_id)
            .order_by(lines_table.c.seq)
        )
        return list(conn.execute(query).scalars())


def _take(conn: sa.Connection, ready_id: int, worker: str, lease: float, status: str = READY) -> Claim | None:
    now = utcnow()
    taken = conn.execute(
        t.ready_jobs.update()
        .where(t.ready_jobs.c.id == ready_id, t.ready_jobs.c.status == status)
        .values(
            status=CLAIMED,
            worker=worker,
            fence=t.ready_jobs.c.fence + 1,
            claimed_at=now,
            lease_until=now + timedelta(seconds=lease),
            finished_at=None,
            reason=None,
        )
    )
    if not taken.rowcount:
        return None
    row = conn.execute(sa.select(t.ready_jobs).where(t.ready_jobs.c.id == ready_id)).one()
    return Claim(row.id, row.fence, row.run_id, row.path, row.attempt, dict(row.spec), status == ADRIFT)


def claim_many(
    store: Store, worker: str, labels: Mapping[str, str], limit: int, lease: float = DEFAULT_LEASE
) -> list[Claim]:
    """Lease up to ``limit`` of the oldest ready attempts this worker's labels allow (a worker
    with ``limit`` free slots), oldest first. On PostgreSQL one statement picks, locks (``FOR
    UPDATE SKIP LOCKED``: rows others are claiming are skipped, not waited for), matches the
    labels (``jsonb <@``) and takes them; MySQL/MariaDB lock the candidates the same way and
    take the matching ones in the same transaction; SQLite (one writer at a time) reads, then
    takes them with a compare-and-set from ``ready``."""
    if limit < 1:
        return []
    ready = t.ready_jobs.c
    now = utcnow()
    taking = t.ready_jobs.update().values(
        status=CLAIMED,
        worker=worker,
        fence=ready.fence + 1,
        claimed_at=now,
        lease_until=now + timedelta(seconds=lease),
    )
    returned = (ready.id, ready.fence, ready.run_id, ready.path, ready.attempt, ready.spec)
    dialect = store.database.dialect.name
    if dialect == "postgresql":
        offered = sa.cast(sa.literal(json.dumps(dict(labels))), JSONB)
        picked = (
            sa.select(ready.id)
            .where(ready.status == READY, sa.cast(ready.labels, JSONB).contained_by(offered))
            .order_by(ready.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        taken = taking.where(ready.id.in_(picked.scalar_subquery())).returning(*returned).cte("taken")
        announced = sa.select(taken, _notify(CLAIMED_CHANNEL, taken.c.id)).select_from(taken)
        with store.autocommit.begin() as conn:  # one statement: the claim and its announcement
            return _claims(conn.execute(announced).all())
    window = max(CLAIM_WINDOW, 4 * limit)
    candidates = sa.select(ready.id, ready.labels).where(ready.status == READY)
    candidates = candidates.order_by(ready.id).limit(window)
    if dialect == "sqlite":  # read, then compare-and-set in one short write transaction
        with store.autocommit.connect() as conn:
            chosen = _matching(conn.execute(candidates).all(), labels, limit)
        if not chosen:
            return []
        with store.database.begin() as conn:
            rows = conn.execute(
                taking.where(ready.id.in_(chosen), ready.status == READY).returning(*returned)
            )
            return _claims(rows.all())
    with store.database.begin() as conn:  # MySQL/MariaDB: no UPDATE ... RETURNING
        chosen = _matching(conn.execute(candidates.with_for_update(skip_locked=True)).all(), labels, limit)
        if not chosen:
            return []
        conn.execute(taking.where(ready.id.in_(chosen)))
        return _claims(conn.execute(sa.select(*returned).where(ready.id.in_(chosen))).all())


def _matching(rows: Sequence[sa.Row[Any, Any]], labels: Mapping[str, str], limit: int) -> list[int]:
    return [row.id for row in rows if labels_match(row.labels, labels)][:limit]


def _claims(rows: Sequence[Any]) -> list[Claim]:
    taken = [Claim(row.id, row.fence, row.run_id, row.path, row.attempt, dict(row.spec)) for row in rows]
    return sorted(taken, key=lambda claim: claim.id)


def _fenced(conn: sa.Connection, claim: Claim) -> bool:
    """Whether the claim still holds, locking its row (or, on SQLite, the database) until
    the transaction ends: nobody can take it from us between this check and our write."""
    touched = conn.execute(
        t.ready_jobs.update()
        .where(t.ready_jobs.c.id == claim.id, t.ready_jobs.c.fence == claim.fence)
        .where(t.ready_jobs.c.status == CLAIMED)
        .values(fence=t.ready_jobs.c.fence)
    )
    return bool(touched.rowcount)


def append_lines(
    store: Store, claim: Claim, first_seq: int, lines: Sequence[tuple[str, str, datetime]]
) -> bool:
    """Lines ``first_seq``... of the claimed attempt, as (stream, text, time); False (and
    nothing written) when the claim no longer holds."""
    if not lines:
        return True
    with store.database.begin() as conn:
        if not _fenced(conn, claim):
            return False
        conn.execute(
            t.ready_job_lines.insert(),
            [
                dict(ready_job_id=claim.id, seq=first_seq + index, at=at, stream=stream, line=text)
                for index, (stream, text, at) in enumerate(lines)
            ],
        )
    return True


def finish(
    store: Store,
    claim: Claim,
    *,
    exit_code: int | None,
    oom_killed: bool = False,
    reason: str | None = None,
    output_file: bytes | None = None,
) -> bool:
    """How the claimed attempt ended; False (nothing written) when the claim no longer holds."""
    encoded = None if output_file is None else base64.b64encode(output_file).decode()
    with store.autocommit.begin() as conn:  # one statement: the fence is checked where it writes
        ended = conn.execute(
            t.ready_jobs.update()
            .where(t.ready_jobs.c.id == claim.id, t.ready_jobs.c.fence == claim.fence)
            .where(t.ready_jobs.c.status == CLAIMED)
            .values(
                status=DONE,
                finished_at=utcnow(),
                exit_code=exit_code,
                oom_killed=oom_killed,
                reason=reason,
                output_file=encoded,
            )
        )
        return bool(ended.rowcount)


def holders(store: Store, ids: Iterable[int]) -> dict[int, str | None]:
    """Which worker holds each of ``ids`` now (None: nobody)."""
    wanted = list(ids)
    if not wanted:
        return {}
    with store.autocommit.connect() as conn:
        rows = conn.execute(
            sa.select(t.ready_jobs.c.id, t.ready_jobs.c.worker, t.ready_jobs.c.status).where(
                t.ready_jobs.c.id.in_(wanted)
            )
        ).all()
    return {row.id: row.worker if row.status == CLAIMED else None for row in rows}


def finished_runs(store: Store, run_uids: Iterable[str]) -> set[str]:
    """Those of ``run_uids`` that have ended (or are gone): a worker tears their workspaces down."""
    wanted = list(run_uids)
    if not wanted:
        return set()
    with store.autocommit.connect() as conn:
        live = set(
            conn.execute(
                sa.select(t.runs.c.uid).where(
                    t.runs.c.uid.in_(wanted), t.runs.c.status.in_(("pending", "running", "paused"))
                )
            ).scalars()
        )
    return set(wanted) - live
