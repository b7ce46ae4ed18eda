"""An executor that runs nothing: for engine tests and for measuring the engine's own
overhead. What each "job" does is read from its environment (:mod:`.convert`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from containerops.executors.base import Executor, ExitStatus, JobHandle, JobSpec, LogLine
from containerops.executors.dummy.convert import behaviour_of


class DummyHandle(JobHandle):
    def __init__(self, spec: JobSpec) -> None:
        super().__init__(spec)
        self.does = behaviour_of(spec)
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
        for number in range(1, handle.does.lines + 1):
            yield LogLine("stdout", f"line {number}", now)
        for key, value in handle.does.outputs.items():
            yield LogLine("stdout", f"[COUT] {key} = {value}", now)

    async def wait(self, handle: JobHandle) -> ExitStatus:
        assert isinstance(handle, DummyHandle)
        does = handle.does
        if does.sleep:
            await asyncio.sleep(does.sleep)
        return ExitStatus(does.exit_code, oom_killed=does.oom)

    async def destroy(self, handle: JobHandle) -> None:
        assert isinstance(handle, DummyHandle)
        if not handle.destroyed:
            handle.destroyed = True
            self.destroyed += 1
