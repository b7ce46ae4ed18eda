"""The attempts of one job: each a fresh container (or a service call), its log lines
stored as they come, its outputs read, its end and the reason for it recorded.

A job's attempts run until one succeeds or its retries are spent; what a ``post`` script
says about an attempt's result is part of that attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from typing import Any

from containerops.contract.cout import COUT_MARKER, OutputError, Outputs
from containerops.contract.output_file import parse_output_file
from containerops.engine import service
from containerops.engine.environment import job_environment
from containerops.engine.prepared import PreparedRun
from containerops.engine.scripts import Launch, post_step
from containerops.engine.state import JobState, JobStatus
from containerops.engine.templating import Values
from containerops.executors.base import Executor, ExecutorError, ExitStatus, JobHandle, JobSpec
from containerops.model.flow import Job
from containerops.model.quantities import format_duration, format_memory, parse_memory
from containerops.store import Store
from containerops.store.logs import attempt_lines
from containerops.store.values import utcnow

#: Flush early when this many log lines wait, to bound memory.
FLUSH_LINES = 20_000
#: A line longer than this (characters) is stored cut, with a marker saying how much.
MAX_LINE = 64 * 1024
#: Characters of log one attempt may store (``COOPS_MAX_JOB_LOG``); past it lines are counted,
#: not stored, and the log says so, so that no job can fill the disk.
DEFAULT_MAX_JOB_LOG = 256 * 1024 * 1024

Result = tuple[JobStatus, int | None, str | None, dict[str, str]]


def secret_names(env: dict[str, str], mask: Callable[[str], str]) -> frozenset[str]:
    """The variables of ``env`` whose values hold a secret (what the run's masker would
    hide in them): an executor that can keeps these out of the job's spec."""
    return frozenset(name for name, value in env.items() if mask(value) != value)


def max_job_log(flow_cap: int | None = None) -> int:
    """The server-wide cap (``COOPS_MAX_JOB_LOG``: 268435456, 256M, 1G...), or the flow's
    ``max_job_log`` when that is lower."""
    try:
        setting = parse_memory(os.environ.get("COOPS_MAX_JOB_LOG", "").strip() or DEFAULT_MAX_JOB_LOG)
    except ValueError:
        setting = DEFAULT_MAX_JOB_LOG
    cap = setting or DEFAULT_MAX_JOB_LOG
    return min(cap, flow_cap) if flow_cap else cap


class Attempts:
    """Runs jobs' attempts for one run, on its executor."""

    def __init__(self, run: PreparedRun, executor: Executor, store: Store, callback_base: str | None) -> None:
        self.run = run
        self.executor = executor
        self.store = store  # service callbacks are kept there
        self.callback_base = callback_base

    async def run_job(self, js: JobState, launch: Launch) -> None:
        """Attempt the job until it succeeds or its retries are spent, and settle it."""
        job, run = js.job, self.run
        first = js.attempts + 1  # a restored job goes on numbering its attempts
        last = max(first, first + job.retries - js.failed_before)  # retries spent stay spent
        for attempt in range(first, last + 1):
            try:
                status, exit_code, reason, outputs = await self._attempt(js, attempt, launch)
            except asyncio.CancelledError:
                run.settle(js, "cancelled", run.interrupt_reason(js), history=False)
                raise
            js.exit_code, js.outputs = exit_code, outputs
            backoff = job.backoff
            if status == "success" or attempt == last or (backoff and not backoff.retries_exit(exit_code)):
                # the attempt's change already says it: one history row, not two
                run.settle(js, status, reason, history=False)
                return
            wait = backoff.wait_before(attempt) if backoff else 0.0
            if wait > 0:
                said = f"[coops] attempt {attempt} failed ({reason}); the next in {format_duration(wait)}"
                run.log_line(js, attempt + 1, said, "stderr")
                try:
                    await asyncio.sleep(wait)
                except asyncio.CancelledError:
                    run.settle(js, "cancelled", run.interrupt_reason(js))
                    raise

    async def _attempt(self, js: JobState, attempt: int, launch: Launch) -> Result:
        """One try of a job (a fresh container, or a service call): (status, exit code, reason, outputs)."""
        run, reporter = self.run, self.run.reporter
        job = launch.job
        now = utcnow()
        js.attempts = attempt
        js.status = "running"
        js.reason = None
        if js.started_at is None:
            js.started_at = now
        reporter.job(js.id, status="running", attempts=attempt, started_at=js.started_at, reason=None)
        if js.adopting != attempt:
            reporter.attempt(js.id, attempt, _new=True, status="running", started_at=now)
            reporter.change(js.id, attempt, "running", now, None)
        if self.executor.has_side_effects:
            reporter.flush()  # "started" is stored before anything starts
        run.changed(js)
        env, inputs = job_environment(job, subscribed=launch.subscribed, attempt=attempt, values=run.values)
        env = launch.environment(env)
        templates = run.values.but(env=env, inputs=inputs)  # command, endpoint, service
        if job.type == "service":
            exit_code: int | None = None
            reason, values = await self._call_service(js, attempt, job, templates)
        else:
            exit_code, reason, values = await self._run_container(js, attempt, job, env, templates)
        status: JobStatus = "success" if reason is None else "failure"
        if job.post is not None:
            status, reason, values = await post_step(
                run, js, attempt, launch, (status, exit_code, reason, values)
            )
        self._end_attempt(js, attempt, status, exit_code, reason, values)
        return status, exit_code, reason, values

    async def _call_service(
        self, js: JobState, attempt: int, job: Job, values: Values
    ) -> tuple[str | None, dict[str, str]]:
        """A service job's attempt: (reason it failed or None, outputs)."""
        run = self.run
        assert job.service is not None
        try:
            async with asyncio.timeout(job.timeout):
                outputs = await service.call(
                    job.service,
                    values,
                    store=self.store,
                    run_id=run.state.id,
                    job_id=js.id,
                    attempt=attempt,
                    callback_base=self.callback_base,
                    log=lambda stream, text: run.log_line(js, attempt, text, stream),
                    on_token=run.masker.add,
                    mask=run.masker.mask,
                )
        except service.ServiceError as error:
            return run.masker.mask(str(error)), {}
        except TimeoutError:
            return f"timeout after {job.timeout or 0:g} s", {}
        except asyncio.CancelledError:
            self._end_attempt(js, attempt, "cancelled", None, run.interrupt_reason(js), {})
            raise
        return None, {key: run.masker.mask(value) for key, value in outputs.items()}

    async def _run_container(
        self, js: JobState, attempt: int, job: Job, env: dict[str, str], templates: Values
    ) -> tuple[int | None, str | None, dict[str, str]]:
        """A job's attempt in a fresh container: (exit code, reason it failed or None, outputs)."""
        spec = JobSpec(
            run_id=self.run.state.uid,
            path=job.path,
            attempt=attempt,
            image=None if job.endpoint is None else templates.render(job.endpoint),
            command=None if job.command is None else [templates.render(part) for part in job.command],
            env=env,
            cpu=job.resources.cpu,
            memory=job.resources.memory,
            timeout=job.timeout,
            node_labels=job.labels,
            secret_env=secret_names(env, self.run.masker.mask),
        )
        outputs = Outputs()
        run_mask = self.run.masker.mask
        reason: str | None = None
        exit_code: int | None = None
        handle: JobHandle | None = None
        budget = job.timeout
        try:
            if js.adopting == attempt:
                handle = await self._adopt(js, spec)
                if handle is not None and budget is not None and js.adopted_since is not None:
                    budget = max(0.0, budget - (utcnow() - js.adopted_since).total_seconds())
            js.adopting = js.adopted_since = None
            handle = handle or await self.executor.start(spec)
            async with asyncio.timeout(budget):
                reason = await self._pump_logs(js, attempt, handle, outputs)
                if reason is None:
                    ended = await self.executor.wait(handle)
                    exit_code = ended.exit_code
                    reason = exit_reason(ended, job)
                    try:  # ``CO_OUTPUT``: read even after a failure, as the log's outputs are
                        for key, value in parse_output_file(await self.executor.output_file(handle) or b""):
                            outputs.set(key, run_mask(value))
                    except OutputError as error:
                        reason = reason or str(error)
        except TimeoutError:
            reason = f"timeout after {job.timeout or 0:g} s"
        except ExecutorError as error:
            reason = str(error)
        except asyncio.CancelledError:
            interrupted = self.run.interrupt_reason(js)
            self._end_attempt(js, attempt, "cancelled", exit_code, interrupted, outputs.values)
            raise
        finally:
            if handle is not None:
                await _shielded(self.executor.destroy(handle))
        if reason is None and outputs.result is False:
            reason = "the component reported CO_RESULT = false"
        return exit_code, reason, outputs.values

    async def _adopt(self, js: JobState, spec: JobSpec) -> JobHandle | None:
        """Follow the attempt an engine that stopped left going on, from its lines stored."""
        self.run.reporter.flush()
        stored = await asyncio.to_thread(attempt_lines, self.store, self.run.state.id, js.path, spec.attempt)
        handle = await self.executor.adopt(spec, [row.line for row in stored])
        if handle is not None:
            self.run.line_numbers[(js.id, spec.attempt)] = max((row.seq for row in stored), default=0)
        return handle

    def _end_attempt(
        self,
        js: JobState,
        attempt: int,
        status: JobStatus,
        exit_code: int | None,
        reason: str | None,
        outputs: dict[str, str],
    ) -> None:
        finished = utcnow()
        self.run.line_numbers.pop((js.id, attempt), None)
        reporter = self.run.reporter
        reporter.attempt(
            js.id,
            attempt,
            status=status,
            exit_code=exit_code,
            reason=reason,
            outputs=outputs,
            finished_at=finished,
        )
        reporter.change(js.id, attempt, status, finished, reason)

    async def _pump_logs(self, js: JobState, attempt: int, handle: JobHandle, outputs: Outputs) -> str | None:
        """Store every line the job prints and read its outputs; a reason if it broke the limits.

        The busiest loop of a chatty job (a million lines) goes a batch at a time (the lines of
        one read of the job's output): masked, measured and handed to the reporter as whole
        lists, so that per line only C code runs; a batch holding an output (``[COUT]``) or
        crossing the log's size limit takes the line-by-line way.
        """
        run, reporter = self.run, self.run.reporter
        seq = run.line_numbers.get((js.id, attempt), 0)
        batches = self.executor.log_batches(handle)
        masker, mask, feed, job_id = run.masker, run.masker.mask, outputs.feed, js.id
        log, log_batch = reporter.log, reporter.log_batch
        room, unstored = max_job_log(run.state.flow.max_job_log), 0
        sink = run.log_sink
        try:
            async for batch in batches:
                streams, texts, times = zip(*batch, strict=True)
                if masker:
                    texts = tuple(map(mask, texts))
                size = sum(map(len, texts))
                if sink is not None:  # the server's log rules see every line, stored or not
                    sink.lines(js.path, attempt, streams, texts, times)
                if size <= room and max(map(len, texts)) <= MAX_LINE and COUT_MARKER not in "".join(texts):
                    room -= size
                    log_batch(job_id, attempt, seq + 1, times, streams, texts)
                    seq += len(texts)
                    js.last_line = texts[-1]
                else:
                    for stream, text, at in zip(streams, texts, times, strict=True):
                        shown = (
                            text  # stored; outputs are read from the whole line (they have their own limits)
                        )
                        if len(text) > MAX_LINE:
                            shown = f"{text[:MAX_LINE]} [... {len(text) - MAX_LINE} more characters cut]"
                        room -= len(shown)
                        if room >= 0:
                            seq += 1
                            log(job_id, attempt, seq, at, stream, shown)
                            js.last_line = shown
                        else:  # counted, not stored: the job goes on, its outputs are still read
                            unstored += 1
                        if COUT_MARKER in text and stream == "stdout":
                            try:
                                feed(text)
                            except OutputError as error:
                                return str(error)
                if reporter.pending_logs >= FLUSH_LINES:
                    reporter.flush(wait=False)
        finally:
            if unstored:
                seq += 1
                cap = max_job_log(run.state.flow.max_job_log)
                note = f"[coops] the log passed {cap} characters: {unstored} more lines not stored"
                log(job_id, attempt, seq, utcnow(), "stderr", note)
                js.last_line = note
                reporter.attempt(job_id, attempt, log_unstored=unstored)  # the record says so too
            run.line_numbers[(js.id, attempt)] = seq
            aclose = getattr(batches, "aclose", None)  # stop the reader when we leave early
            if aclose is not None:
                await aclose()
        return None


def exit_reason(ended: ExitStatus, job: Job) -> str | None:
    if ended.oom_killed:  # worded here, the same on every executor
        limit = f" (limit {format_memory(job.resources.memory)})" if job.resources.memory else ""
        if ended.exit_code == 137:  # 128 + SIGKILL: the job's own process was killed
            return f"out of memory{limit}: killed with exit code 137"
        # the kernel killed another process of the job (a child); the job went on and ended
        code = ended.exit_code
        return f"out of memory{limit}: a process of the job was killed; the job then exited with code {code}"
    if ended.exit_code != 0:
        return ended.reason or f"exit code {ended.exit_code}"
    return None


async def _shielded(coro: Any) -> None:
    """Await cleanup even while being cancelled, then let the cancellation go on."""
    task = asyncio.ensure_future(coro)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise
    except Exception:
        pass
