"""Who runs a run: its owner process and heartbeat, and settling runs whose owner is gone.

A run records the process that runs it (``host:pid:start``) and refreshes a heartbeat
while it goes on. Any coops process can then tell an abandoned run (its owner killed
with -9, its machine gone) from a live one: on this host by asking the kernel whether
that very process still exists, elsewhere by the heartbeat's age.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from containerops.store import schema as t
from containerops.store import workers
from containerops.store.values import aware, history_row, utcnow

if TYPE_CHECKING:  # for annotations only: store.py imports this module (through runs.py)
    from containerops.store.store import Store

#: How often a live owner refreshes its runs' heartbeat, and after how long without one a
#: run of another host is taken as abandoned (``COOPS_HEARTBEAT_EXPIRY`` seconds).
HEARTBEAT_EVERY = 2.0
DEFAULT_EXPIRY = 30.0
#: What a run whose owner is gone could still be doing.
UNFINISHED = ("pending", "running", "paused")


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat``), or None when
    there is no such process: with the pid, it names one process, even after pid reuse."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return fields[19].decode()


def this_process() -> str:
    """This process as an owner: ``host:pid:start``."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid())}"


def owner_alive(owner: str | None, heartbeat_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether the owner of a run may still be running it. A run with no owner recorded
    (written before owners were) counts as alive: nothing says otherwise."""
    if owner is None:
        return True
    host, _, rest = owner.partition(":")
    pid, _, start = rest.partition(":")
    if host == socket.gethostname() and pid.isdigit():
        return _start_ticks(int(pid)) == start
    beat = aware(heartbeat_at)
    setting = os.environ.get("COOPS_HEARTBEAT_EXPIRY", "")
    expiry = float(setting) if setting.replace(".", "", 1).isdigit() else DEFAULT_EXPIRY
    return beat is not None and (now or utcnow()) - beat < timedelta(seconds=expiry)


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who runs a run, as far as another process can tell."""

    status: str
    owner: str | None
    alive: bool
    #: A server's run (it has a trigger) rather than a ``coops run``'s.
    server: bool

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED

    @property
    def pid(self) -> int | None:
        """The owner's process id, when it runs on this machine."""
        if self.owner is None:
            return None
        host, _, rest = self.owner.partition(":")
        pid = rest.partition(":")[0]
        return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def ownership(store: Store, run_id: int) -> Ownership:
    with store.autocommit.connect() as conn:
        row = conn.execute(
            sa.select(t.runs.c.status, t.runs.c.owner, t.runs.c.heartbeat_at, t.runs.c.trigger).where(
                t.runs.c.id == run_id
            )
        ).one()
    return Ownership(row.status, row.owner, owner_alive(row.owner, row.heartbeat_at), row.trigger is not None)


def abandoned_runs(store: Store, *, servers: bool = False) -> list[tuple[int, str, str]]:
    """(id, uid, status) of the unfinished runs whose owner is gone. A server's run is not
    abandoned (unless ``servers``: someone cancels it): it waits in the store for a server
    to take it up again (its jobs may go on under workers meanwhile), and a paused one
    never is (it waits for a decision)."""
    server: sa.ColumnElement[bool] = t.runs.c.trigger.is_not(None)
    if servers:
        server = sa.and_(server, t.runs.c.status == "paused")
    with store.autocommit.connect() as conn:
        rows = conn.execute(
            sa.select(t.runs.c.id, t.runs.c.uid, t.runs.c.status, t.runs.c.owner, t.runs.c.heartbeat_at)
            .where(t.runs.c.status.in_(UNFINISHED), t.runs.c.owner.is_not(None), sa.not_(server))
            .order_by(t.runs.c.id)
        ).all()
    return [(row.id, row.uid, row.status) for row in rows if not owner_alive(row.owner, row.heartbeat_at)]


def live_run_uids(store: Store) -> set[str]:
    """The uids of unfinished runs whose owner may still be running them, and of unfinished
    server runs (a server takes them up, with what they left running)."""
    with store.autocommit.connect() as conn:
        rows = conn.execute(
            sa.select(t.runs.c.uid, t.runs.c.owner, t.runs.c.heartbeat_at, t.runs.c.trigger).where(
                t.runs.c.status.in_(UNFINISHED)
            )
        ).all()
    return {row.uid for row in rows if row.trigger is not None or owner_alive(row.owner, row.heartbeat_at)}


def settle_abandoned(store: Store, run_ids: list[int], reason: str) -> None:
    """Fail runs whose owner is gone (their running jobs failed, the rest skipped)."""
    with store.database.begin() as conn:
        finish_runs(conn, run_ids, "failure", reason)


def finish_runs(conn: sa.Connection, run_ids: list[int], status: str, reason: str) -> None:
    """End runs as ``status`` and finish their jobs: a running job failed, a waiting one skipped."""
    now = utcnow()
    for run_id in run_ids:
        jobs = conn.execute(
            sa.select(t.jobs.c.id, t.jobs.c.status, t.jobs.c.attempts).where(
                t.jobs.c.run_id == run_id, t.jobs.c.status.in_(("pending", "running"))
            )
        ).all()
        changes: list[dict[str, Any]] = []
        for job in jobs:
            ended = "failure" if job.status == "running" else "skipped"
            why = reason if ended == "failure" else f"skipped: {reason}"
            conn.execute(
                t.jobs.update().where(t.jobs.c.id == job.id).values(status=ended, reason=why, finished_at=now)
            )
            if ended == "failure":
                conn.execute(
                    t.job_attempts.update()
                    .where(t.job_attempts.c.job_id == job.id, t.job_attempts.c.attempt == job.attempts)
                    .where(t.job_attempts.c.status == "running")
                    .values(status="failure", reason=why, finished_at=now)
                )
            changes.append(history_row(run_id, job.id, job.attempts or None, ended, why, now))
        changes.append(history_row(run_id, None, None, status, reason, now))
        conn.execute(t.state_changes.insert(), changes)
        conn.execute(
            t.runs.update().where(t.runs.c.id == run_id).values(status=status, reason=reason, finished_at=now)
        )
        workers.drop_run_lines(conn, run_id)
