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
import ctypes
import os
import resource
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable

from containerops.contract.output_file import MAX_FILE_BYTES
from containerops.executors.base import (
    Executor,
    ExecutorError,
    ExitStatus,
    JobHandle,
    JobSpec,
    LogLine,
    RunContext,
    lines_of,
)
from containerops.executors.local.cleanup import stop_run
from containerops.executors.local.convert import RUN_ENV, process_config
from containerops.executors.local.lines import LIMIT, read_lines

__all__ = ["RUN_ENV", "LocalExecutor", "LocalHandle", "stop_run"]

_QUEUE_BATCHES = 64  # batches that may wait for the engine before the readers pause


#: prctl(2)'s option: the signal the process gets when its parent dies.
PR_SET_PDEATHSIG = 1


class LocalHandle(JobHandle):
    def __init__(self, spec: JobSpec, process: asyncio.subprocess.Process, output: str) -> None:
        super().__init__(spec)
        self.process = process
        self.output = output  # the file CO_OUTPUT names


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, *, die_with_parent: bool = False) -> None:
        #: run id -> the run's workspace directory
        self._workspaces: dict[str, str] = {}
        #: Each job's process is killed when this process dies (``coops worker``: a worker
        #: killed with -9 leaves no job of it writing on while its retry runs elsewhere).
        self.die_with_parent = die_with_parent

    async def setup(self, run: RunContext) -> None:
        self._workspaces[run.run_id] = tempfile.mkdtemp(prefix=f"coops-workspace-{run.run_id[:12]}-")

    async def teardown(self, run: RunContext) -> None:
        folder = self._workspaces.pop(run.run_id, None) if not run.keep_workspace else None
        if folder is not None:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    def workspace(self, run: RunContext) -> str | None:
        return self._workspaces.get(run.run_id)

    async def start(self, spec: JobSpec) -> JobHandle:
        output_fd, output = tempfile.mkstemp(prefix="coops-output-")
        os.close(output_fd)
        config = process_config(
            spec, workspace=self._workspaces.get(spec.run_id), environ=os.environ, output=output
        )
        try:
            process = await asyncio.create_subprocess_exec(
                *config.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=config.env,
                start_new_session=True,
                limit=LIMIT,
                preexec_fn=_limits(config.memory, die_with_parent=self.die_with_parent),
            )
        except OSError as error:
            os.unlink(output)
            raise ExecutorError(f"cannot start {config.argv[0]!r}: {error.strerror or error}") from error
        return LocalHandle(spec, process, output)

    def logs(self, handle: JobHandle) -> AsyncIterator[LogLine]:
        return lines_of(self.log_batches(handle))

    async def log_batches(self, handle: JobHandle) -> AsyncIterator[list[LogLine]]:
        assert isinstance(handle, LocalHandle)
        process = handle.process
        assert process.stdout is not None and process.stderr is not None
        queue: asyncio.Queue[list[LogLine] | None] = asyncio.Queue(maxsize=_QUEUE_BATCHES)
        readers = [
            asyncio.create_task(read_lines(process.stdout, "stdout", queue)),
            asyncio.create_task(read_lines(process.stderr, "stderr", queue)),
        ]
        try:
            open_streams = len(readers)
            while open_streams:
                batch = await queue.get()
                if batch is None:
                    open_streams -= 1
                    continue
                yield batch
        finally:
            for reader in readers:
                reader.cancel()

    async def wait(self, handle: JobHandle) -> ExitStatus:
        assert isinstance(handle, LocalHandle)
        code = await handle.process.wait()
        if code < 0:  # killed by a signal: report it the way a shell (and Docker) would
            return ExitStatus(128 - code, reason=f"killed by signal {signal.Signals(-code).name}")
        return ExitStatus(code)

    async def output_file(self, handle: JobHandle) -> bytes | None:
        assert isinstance(handle, LocalHandle)
        try:
            with open(handle.output, "rb") as written:
                return written.read(MAX_FILE_BYTES + 1) or None
        except FileNotFoundError:  # the job removed it
            return None

    async def destroy(self, handle: JobHandle) -> None:
        assert isinstance(handle, LocalHandle)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.output)
        process = handle.process
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        else:  # the job ended, but what it left in its group goes too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


def _limits(memory: int | None, *, die_with_parent: bool = False) -> Callable[[], None] | None:
    """What the child does before it runs the job: its memory limit, and (Linux
    ``PR_SET_PDEATHSIG``) SIGKILL when its parent dies. None when nothing (the faster spawn)."""
    if not memory and not die_with_parent:
        return None

    def apply() -> None:
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if die_with_parent:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return apply
