"""Runs a job's ``command`` as a process on this machine, for machines without
Docker. Same contract as containers: the job's variables (on top of this
machine's environment, so that PATH and HOME work), its lines, its exit code.
A memory limit becomes an address-space limit; each job gets its own process
group so that a timeout or a cancel kills everything it started.

The run's workspace is a temporary directory (``CO_WORKSPACE``), shared by the
run's jobs and removed at teardown unless the run keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from containerops.executors.base import (
    WORKSPACE_ENV,
    Executor,
    ExecutorError,
    ExitStatus,
    JobHandle,
    JobSpec,
    LogLine,
    RunContext,
    Stream,
)

#: Every process of a run carries its uid in this variable: the local executor's label,
#: by which :func:`stop_run` finds what a killed coops process left running.
RUN_ENV = "COOPS_RUN_UID"
_LIMIT = 1024 * 1024  # longest line read at once; longer ones come out in pieces
_READ_SIZE = 256 * 1024  # bytes read from a pipe at once: many lines per read under load
_QUEUE_BATCHES = 64  # batches that may wait for the engine before the readers pause


class LocalHandle(JobHandle):
    def __init__(self, spec: JobSpec, process: asyncio.subprocess.Process) -> None:
        super().__init__(spec)
        self.process = process


class LocalExecutor(Executor):
    name = "local"

    def __init__(self) -> None:
        #: run id -> the run's workspace directory
        self._workspaces: dict[str, str] = {}

    async def setup(self, run: RunContext) -> None:
        self._workspaces[run.run_id] = tempfile.mkdtemp(prefix=f"coops-workspace-{run.run_id[:12]}-")

    async def teardown(self, run: RunContext) -> None:
        folder = self._workspaces.pop(run.run_id, None) if not run.keep_workspace else None
        if folder is not None:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    def workspace(self, run: RunContext) -> str | None:
        return self._workspaces.get(run.run_id)

    async def start(self, spec: JobSpec) -> JobHandle:
        if not spec.command:
            raise ExecutorError(
                f"the local executor runs a job's command, and {spec.path} has none; "
                "add `command:` or use the docker executor"
            )
        env = {**os.environ, **spec.env, RUN_ENV: spec.run_id}
        workspace = self._workspaces.get(spec.run_id)
        if workspace is not None:
            env[WORKSPACE_ENV] = workspace
        try:
            process = await asyncio.create_subprocess_exec(
                *spec.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,
                limit=_LIMIT,
                preexec_fn=_limits(spec.memory),
            )
        except OSError as error:
            raise ExecutorError(f"cannot start {spec.command[0]!r}: {error.strerror or error}") from error
        return LocalHandle(spec, process)

    async def logs(self, handle: JobHandle) -> AsyncIterator[LogLine]:
        assert isinstance(handle, LocalHandle)
        process = handle.process
        assert process.stdout is not None and process.stderr is not None
        # Lines cross from the readers in batches (one per read of the pipe): a job
        # printing a million lines costs a few thousand queue hand-overs, not a million.
        queue: asyncio.Queue[list[LogLine] | None] = asyncio.Queue(maxsize=_QUEUE_BATCHES)
        readers = [
            asyncio.create_task(_read(process.stdout, "stdout", queue)),
            asyncio.create_task(_read(process.stderr, "stderr", queue)),
        ]
        try:
            open_streams = len(readers)
            while open_streams:
                batch = await queue.get()
                if batch is None:
                    open_streams -= 1
                    continue
                for line in batch:
                    yield line
        finally:
            for reader in readers:
                reader.cancel()

    async def wait(self, handle: JobHandle) -> ExitStatus:
        assert isinstance(handle, LocalHandle)
        code = await handle.process.wait()
        if code < 0:  # killed by a signal: report it the way a shell (and Docker) would
            return ExitStatus(128 - code, reason=f"killed by signal {signal.Signals(-code).name}")
        return ExitStatus(code)

    async def destroy(self, handle: JobHandle) -> None:
        assert isinstance(handle, LocalHandle)
        process = handle.process
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        else:  # the job ended, but what it left in its group goes too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


async def _read(
    stream: asyncio.StreamReader, name: Stream, queue: asyncio.Queue[list[LogLine] | None]
) -> None:
    """Read the pipe in large blocks and hand over the whole lines of each block at once.

    Lines end at ``\n`` (a trailing ``\r`` goes too); a line longer than the limit
    comes out in pieces of the limit; what is unterminated at the end is a line.
    Every line of one block gets the time the block was read.
    """
    pending = b""
    try:
        while True:
            block = await stream.read(_READ_SIZE)
            if not block:
                break
            data = pending + block if pending else block
            cut = data.rfind(b"\n") + 1
            pending = data[cut:]
            now = datetime.now(UTC)
            texts = _split(data[:cut]) if cut <= _LIMIT else _split_long(data[:cut])
            batch = [LogLine(name, text.rstrip("\r"), now) for text in texts]
            while len(pending) >= _LIMIT:  # no newline in sight: a piece of the limit's size
                piece, pending = pending[:_LIMIT], pending[_LIMIT:]
                batch.append(LogLine(name, piece.decode(errors="replace").rstrip("\r"), now))
            if batch:
                await queue.put(batch)
        if pending:
            await queue.put([LogLine(name, pending.decode(errors="replace").rstrip("\r"), datetime.now(UTC))])
    finally:
        await queue.put(None)


def _split_long(data: bytes) -> list[str]:
    """:func:`_split` for a block that may hold a line longer than the limit (the end of a
    long line read in an earlier block, with its newline in this one): such a line comes
    out in pieces of the limit, however the pipe's reads fell."""
    texts: list[str] = []
    for line in data.split(b"\n")[:-1]:
        while len(line) > _LIMIT:
            texts.append(line[:_LIMIT].decode(errors="replace"))
            line = line[_LIMIT:]
        texts.append(line.decode(errors="replace"))
    return texts


def _split(data: bytes) -> list[str]:
    """Whole lines (``data`` ends with a newline) without their newlines.

    Decoding the block at once is the same as decoding line by line: a newline byte
    never occurs inside a UTF-8 sequence.
    """
    return data.decode(errors="replace").split("\n")[:-1]


def _limits(memory: int | None) -> Callable[[], None] | None:
    if not memory:
        return None

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return apply


def stop_run(run_id: str) -> int:
    """Kill (SIGKILL) every process of this machine that belongs to run ``run_id``, the
    job processes a killed coops process left and whatever they started; how many."""
    marker = b"\0" + f"{RUN_ENV}={run_id}".encode() + b"\0"
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if marker not in b"\0" + environ.read() + b"\0":
                    continue
            os.kill(int(entry), signal.SIGKILL)
            killed += 1
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return killed
