"""A prepared run: everything the engine needs while it runs one, created with the run.

``Engine.prepare`` (a new run) and ``Engine.restore`` (an unfinished one) make it; the
steps of a run (stages, jobs, attempts, scripts) take it, so none of them can be reached
before the run exists, and nothing needs to check that it does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from containerops.engine.masking import Masker
from containerops.engine.reporter import Reporter
from containerops.engine.state import JobState, JobStatus, RunState
from containerops.engine.templating import Values
from containerops.store.values import utcnow

OnChange = Callable[[RunState, JobState | None], None]


class LogSink(Protocol):
    """Where a run's lines go besides the store (a server's log rules): given each batch as it
    is stored, masked, on the engine's event loop; it must not block (it queues and returns)."""

    def lines(
        self,
        job_path: str,
        attempt: int,
        streams: Sequence[str],
        texts: Sequence[str],
        times: Sequence[datetime],
    ) -> None: ...

    async def close(self) -> None:
        """The run has ended: send what is queued (bounded in time), then stop."""


@dataclass(slots=True)
class PreparedRun:
    state: RunState
    reporter: Reporter
    masker: Masker
    #: The flow's environment (with ``--set`` overrides and secrets filled in).
    flow_env: dict[str, str]
    #: ``${{ secrets.NAME }}`` values of this run.
    secret_values: dict[str, str]
    #: What every job's ``${{ ... }}`` may name (``containerops.engine.templating.run_values``).
    values: Values
    on_change: OnChange | None = None
    #: Why the run was stopped from outside: (run status, reason); None while it goes on.
    interrupt: tuple[str, str] | None = None
    #: (job id, attempt) -> the number of the attempt's last log line.
    line_numbers: dict[tuple[int, int], int] = field(default_factory=dict)
    #: Job id -> why it was stopped on its own while the run goes on (a matrix's fail_fast).
    stopped: dict[int, str] = field(default_factory=dict)
    #: The run's lines go here too (a server's ``logs:`` rules); None: only to the store.
    log_sink: LogSink | None = None

    def interrupt_reason(self, js: JobState | None = None) -> str:
        """Why a job (or the run) was cancelled."""
        if js is not None and js.id in self.stopped:
            return self.stopped[js.id]
        return self.interrupt[1] if self.interrupt else "cancelled"

    def changed(self, js: JobState | None = None) -> None:
        """Tell the display; ``js`` is the job that changed, None for the run."""
        if self.on_change is not None:
            self.on_change(self.state, js)

    def log_line(self, js: JobState, attempt: int, text: str, stream: str = "stdout") -> None:
        """One line of the engine's own about a job (a script's print, a service call), masked."""
        key = (js.id, attempt)
        seq = self.line_numbers[key] = self.line_numbers.get(key, 0) + 1
        masked = self.masker.mask(text)
        now = utcnow()
        self.reporter.log(js.id, attempt, seq, now, stream, masked)
        js.last_line = masked
        if self.log_sink is not None:
            self.log_sink.lines(js.path, attempt, (stream,), (masked,), (now,))

    def settle(self, js: JobState, status: JobStatus, reason: str | None, *, history: bool = True) -> None:
        """Record the final state of a job (and, unless its last attempt did, the change)."""
        now = utcnow()
        reason = reason if reason is None else self.masker.mask(reason)  # the live view shows it too
        js.status, js.reason, js.finished_at = status, reason, now
        self.reporter.job(
            js.id,
            status=status,
            reason=reason,
            exit_code=js.exit_code,
            attempts=js.attempts,
            outputs=js.outputs,
            started_at=js.started_at,
            finished_at=now,
        )
        if history:
            self.reporter.change(js.id, js.attempts or None, status, now, reason)
        self.changed(js)
