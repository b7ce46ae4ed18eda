"""The live state of a run and its jobs, as the engine and the display see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from containerops.model.flow import Flow, Job

JobStatus = Literal["pending", "running", "success", "failure", "skipped", "cancelled"]
RunStatus = Literal["pending", "running", "paused", "success", "failure", "cancelled"]
FINISHED: frozenset[str] = frozenset({"success", "failure", "skipped", "cancelled"})


@dataclass(slots=True)
class JobState:
    job: Job
    id: int
    status: JobStatus = "pending"
    reason: str | None = None
    exit_code: int | None = None
    attempts: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: The last line the job printed, for the live display.
    last_line: str = ""
    #: The attempt an engine that stopped left going on (its executor ``adopts``): the next
    #: attempt follows it rather than starting a new one.
    adopting: int | None = None
    #: When the attempt followed again started: its time against the timeout goes on from there.
    adopted_since: datetime | None = None
    #: Its attempts that failed under an engine that stopped: retries they spent.
    failed_before: int = 0

    @property
    def path(self) -> str:
        return self.job.path


@dataclass(slots=True, repr=False)
class RunState:
    flow: Flow
    id: int
    uid: str
    number: int
    executor: str
    jobs: dict[str, JobState]
    status: RunStatus = "pending"
    reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: Where the run's workspace was kept (``keep_workspace``), in words; None when removed.
    workspace: str | None = None
    #: A matrix job's path -> its instances' paths, in order (``containerops.engine.fanout``).
    instances: dict[str, list[str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Short on purpose: asyncio formats task results with repr, and the full
        # dataclass repr of a 10,000-job run costs a tenth of a second.
        return f"<RunState {self.flow.uri}#{self.number} {self.status} ({len(self.jobs)} jobs)>"
