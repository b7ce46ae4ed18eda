"""An executor that runs nothing: for engine tests and for measuring the
engine's own overhead.

The job's environment drives it:
- ``CO_DUMMY_EXIT_CODE``: the exit code (default 0);
- ``CO_DUMMY_SLEEP``: seconds the "job" takes (default 0);
- ``CO_DUMMY_OUTPUTS``: outputs to report, as ``KEY=value`` pairs in the
  ``CO_DATA`` encoding (``CO_RESULT=false`` works too);
- ``CO_DUMMY_LINES``: how many plain log lines to print first (default 0);
- ``CO_DUMMY_OOM``: ``true`` to end as if killed by the memory limit (exit code 137,
  or ``CO_DUMMY_EXIT_CODE`` when given: a child was killed, the job went on);
- ``CO_DUMMY_PASS_ON_ATTEMPT``: fail with exit code 1 before this attempt
  (``CO_ATTEMPT``), for testing retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from containerops.contract.codata import decode_co_data
from containerops.executors.base import Executor, ExitStatus, JobHandle, JobSpec, LogLine


class DummyHandle(JobHandle):
    def __init__(self, spec: JobSpec) -> None:
        super().__init__(spec)
        env = spec.env
        self.exit_code = int(env.get("CO_DUMMY_EXIT_CODE", "0") or 0)
        self.sleep = float(env.get("CO_DUMMY_SLEEP", "0") or 0)
        self.outputs = decode_co_data(env.get("CO_DUMMY_OUTPUTS", ""))
        self.lines = int(env.get("CO_DUMMY_LINES", "0") or 0)
        self.oom = env.get("CO_DUMMY_OOM", "").lower() == "true"
        if self.oom and not env.get("CO_DUMMY_EXIT_CODE"):
            self.exit_code = 137
        pass_on = int(env.get("CO_DUMMY_PASS_ON_ATTEMPT", "0") or 0)
        if pass_on and spec.attempt < pass_on:
            self.exit_code = 1
        self.destroyed = False


class DummyExecutor(Executor):
    name = "dummy"
    has_side_effects = False

    def __init__(self) -> None:
        #: Every spec started, for tests that check what the engine asked for.
        self.started: list[JobSpec] = []
        self.destroyed = 0

    async def start(self, spec: JobSpec) -> JobHandle:
        self.started.append(spec)
        return DummyHandle(spec)

    async def logs(self, handle: JobHandle) -> AsyncIterator[LogLine]:
        assert isinstance(handle, DummyHandle)
        now = datetime.now(UTC)
        for number in range(1, handle.lines + 1):
            yield LogLine("stdout", f"line {number}", now)
        for key, value in handle.outputs.items():
            yield LogLine("stdout", f"[COUT] {key} = {value}", now)

    async def wait(self, handle: JobHandle) -> ExitStatus:
        assert isinstance(handle, DummyHandle)
        if handle.sleep:
            await asyncio.sleep(handle.sleep)
        if handle.oom:
            return ExitStatus(handle.exit_code, oom_killed=True)
        return ExitStatus(handle.exit_code)

    async def destroy(self, handle: JobHandle) -> None:
        assert isinstance(handle, DummyHandle)
        if not handle.destroyed:
            handle.destroyed = True
            self.destroyed += 1
