"""The one small interface every executor implements.

Modelled on a backend lifecycle (Woodpecker's ``pipeline/backend``): set up a
run, start a job, stream its logs, wait for it, destroy it, tear the run down.
The engine only ever talks to this interface, so that Docker, a local process,
a dummy, and later Swarm or Kubernetes, are interchangeable.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

Stream = Literal["stdout", "stderr"]

#: Labels put on every container (or process) an executor starts, so that
#: everything of ours can be found and cleaned, even after a crash.
LABEL_MANAGED = "containerops.managed"
LABEL_RUN = "containerops.run"
LABEL_JOB = "containerops.job"
LABEL_ATTEMPT = "containerops.attempt"
# The COOPS_HOME whose run started the container: `coops cleanup` only touches its own.
LABEL_HOME = "containerops.home"

#: Where the run's shared workspace is mounted in every job container, and the
#: variable that tells a job where it is (the local executor's is a directory).
WORKSPACE_PATH = "/workspace"
WORKSPACE_ENV = "CO_WORKSPACE"


class ExecutorError(Exception):
    """The executor could not do what it was asked (image missing, daemon down...).

    The message is shown to the user as the job's failure reason, so it must say
    what went wrong in plain words.
    """


@dataclass(frozen=True, slots=True)
class RunContext:
    """What an executor knows about the run as a whole."""

    run_id: str
    flow_uri: str
    #: Leave the run's workspace in place at teardown (``coops run --keep-workspace``).
    keep_workspace: bool = False


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything needed to start one attempt of one job."""

    run_id: str
    path: str  # stage.action.job
    attempt: int  # 1 on the first try
    image: str | None  # None for executors that do not use images (local, dummy)
    command: list[str] | None  # replaces the image CMD when given
    env: dict[str, str]
    #: Seconds the attempt may take (the engine enforces it too; a cluster executor hands
    #: it to the cluster, so that a job outlives no lost engine for long); None = none.
    timeout: float | None = None
    cpu: float | None = None  # cores; None = no limit
    memory: int | None = None  # bytes; None = no limit
    labels: dict[str, str] = field(default_factory=dict)
    #: The job's ``labels:``: it runs only where they all match: on a worker that has them
    #: (``coops worker --labels``), on a cluster's nodes labelled so (swarm, kubernetes).
    node_labels: dict[str, str] = field(default_factory=dict)
    #: Names of the ``env`` entries that hold a secret value: an executor that writes its
    #: job's definition somewhere others read (a swarm service) must not put them there.
    secret_env: frozenset[str] = frozenset()


class LogLine(NamedTuple):
    """One line a job printed, without its line terminator.

    A named tuple, not a frozen dataclass: a chatty job makes a million of them, and
    a tuple is made in a third of the time (as immutable, the same fields).
    """

    stream: Stream
    text: str
    time: datetime  # UTC, when the line was produced (the executor's best knowledge)


def attempt_labels(spec: JobSpec) -> list[str]:
    """The label filter (``key=value`` each) that finds what an attempt made: a container,
    a service, a secret. An executor that adopts an attempt finds it by these."""
    return [
        f"{LABEL_MANAGED}=true",
        f"{LABEL_RUN}={spec.run_id}",
        f"{LABEL_JOB}={spec.path}",
        f"{LABEL_ATTEMPT}={spec.attempt}",
    ]


async def lines_of(batches: AsyncIterator[list[LogLine]]) -> AsyncIterator[LogLine]:
    """The lines of ``batches`` one by one (``Executor.logs`` of an executor that reads in
    batches); leaving early closes ``batches``, which stops its reader."""
    try:
        async for batch in batches:
            for line in batch:
                yield line
    finally:
        await _close(batches)


async def after_lines(batches: AsyncIterator[list[LogLine]], skip: int) -> AsyncIterator[list[LogLine]]:
    """``batches`` without their first ``skip`` lines: an adopted attempt's log read again
    from its start, of which the run's log already holds those."""
    try:
        async for batch in batches:
            if skip >= len(batch):
                skip -= len(batch)
                continue
            yield batch[skip:]
            skip = 0
    finally:
        await _close(batches)


async def _close(iterator: AsyncIterator[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


@dataclass(frozen=True, slots=True)
class ExitStatus:
    exit_code: int
    oom_killed: bool = False
    #: Set when the executor itself knows why the job ended abnormally.
    reason: str | None = None


class JobHandle:
    """Opaque reference to a started job; each executor subclasses it."""

    def __init__(self, spec: JobSpec) -> None:
        self.spec = spec


class Executor(abc.ABC):
    """Runs jobs. One instance serves one run at a time (or many: it must not
    keep per-job state outside its handles)."""

    name: str = "abstract"
    #: Whether starting a job has effects outside this process (a container, a process):
    #: then the engine stores that the attempt started before it starts it, so a kill
    #: in between leaves a record of it, not a job that seems never to have run.
    has_side_effects: bool = True
    #: Whether an attempt started by an engine that stopped (a server killed with -9) can
    #: be followed again by another engine: see :meth:`adopt`.
    adopts: bool = False

    async def setup(self, run: RunContext) -> None:  # noqa: B027 - optional hook
        """Prepare the run (networks, volumes...). Called once before any job.

        Executors that give jobs a workspace create it here: one per run, shared
        by all its jobs (``CO_WORKSPACE``), removed at teardown unless
        ``run.keep_workspace``.
        """

    @abc.abstractmethod
    async def start(self, spec: JobSpec) -> JobHandle:
        """Create and start the job; return once it runs. Raise ExecutorError on failure."""

    @abc.abstractmethod
    def logs(self, handle: JobHandle) -> AsyncIterator[LogLine]:
        """Yield every line the job prints, from its very first, until it ends."""

    async def log_batches(self, handle: JobHandle) -> AsyncIterator[list[LogLine]]:
        """:meth:`logs` in batches, as the executor reads them (never an empty one): the
        engine's way, a list at a time rather than a line at a time. Executors that read
        many lines at once override it; this default makes each line a batch."""
        lines = self.logs(handle)
        try:
            async for line in lines:
                yield [line]
        finally:
            await _close(lines)

    @abc.abstractmethod
    async def wait(self, handle: JobHandle) -> ExitStatus:
        """Wait for the job to end and return how it ended."""

    @abc.abstractmethod
    async def destroy(self, handle: JobHandle) -> None:
        """Stop the job if it still runs and remove everything it left, or start to: an
        executor may go on removing in the background if its ``teardown`` waits for that
        (the next job need not wait for the last one's removal). Idempotent."""

    async def adopt(self, spec: JobSpec, stored: Sequence[str]) -> JobHandle | None:
        """The attempt ``spec`` names (run, path, attempt), started by an engine that has
        stopped, when it still goes on or has ended where this executor can still read it:
        its handle, reading its lines after the ``stored`` ones (the lines of it already
        in the run's log, or by the worker that ran it). None when it cannot be found.
        A restored engine asks only executors with ``adopts`` (and starts the attempt
        afresh on None); a worker asks its own for an attempt whose worker was lost (a
        container runs on without it: the Docker executor finds it by its labels)."""
        return None

    async def output_file(self, handle: JobHandle) -> bytes | None:
        """Once the job has ended: what it wrote to the file ``CO_OUTPUT`` names (at most
        ``MAX_FILE_BYTES`` and one more byte, so that a larger file is told), None when it
        wrote none. Executors that give jobs no such file keep this default."""
        return None

    async def teardown(self, run: RunContext) -> None:  # noqa: B027 - optional hook
        """Remove everything left of the run (also what a crashed engine left)."""

    def workspace(self, run: RunContext) -> str | None:
        """Where the run's workspace is, in words a user can act on; None without one."""
        return None
