"""What the engine reports while a run goes on: the narrow port between it and the store.

The engine says what happened (the run's status, a job's columns, an attempt, a state
change, a log line) and when to make it durable (``flush``); where it goes is the
reporter's business. ``containerops.store.Recorder`` implements it with batched SQL; a
test or a benchmark can give the engine one that keeps the reports in memory, and a
remote worker could send them over another transport.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol


class Reporter(Protocol):
    #: Applied to reasons and outputs before they are kept (the run's secrets become ***).
    mask: Callable[[str], str] | None

    def run(self, status: str, at: datetime, reason: str | None = None, **fields: Any) -> None:
        """The run's status changed (``fields``: more of its columns, e.g. ``started_at``)."""

    def run_owner(self, owner: str, at: datetime) -> None:
        """The process ``owner`` runs the run from ``at`` on."""

    def heartbeat(self, at: datetime) -> None:
        """The run's owner is alive at ``at``."""

    def job(self, job_id: int, **fields: Any) -> None:
        """Columns of a job: status, reason, attempts, exit code, outputs, times."""

    def attempt(self, job_id: int, attempt: int, **fields: Any) -> None:
        """Columns of one attempt of a job (``_new=True`` for its first report)."""

    def change(
        self, job_id: int | None, attempt: int | None, status: str, at: datetime, reason: str | None
    ) -> None:
        """A state change of the run (``job_id`` None) or of a job, for the history."""

    def log(self, job_id: int, attempt: int, seq: int, at: datetime, stream: str, line: str) -> None:
        """Line number ``seq`` of an attempt, already masked."""

    def log_batch(
        self,
        job_id: int,
        attempt: int,
        first_seq: int,
        times: Sequence[datetime],
        streams: Sequence[str],
        lines: Sequence[str],
    ) -> None:
        """Lines ``first_seq``, ``first_seq + 1``... of an attempt at once, already masked
        (the three sequences run in parallel): what a chatty job's lines come as."""

    @property
    def pending_logs(self) -> int:
        """Log lines reported and not yet flushed."""

    def flush(self, *, wait: bool = True) -> None:
        """Make everything reported so far durable (``wait=False``: may return before)."""
