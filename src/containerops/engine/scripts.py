"""A job's Lua: ``when:`` expressions, ``pre:`` and ``post:`` scripts (see ``containerops.lua``).

What a script sees (all plain data):

- ``inputs`` and ``env``: the job's inputs and environment (flow and job
  environments, subscribed values); ``pre`` may change both;
- ``jobs``: every job that has finished, by path:
  ``jobs["build.unit.test"].outputs.CO_URL``, ``.status``;
- ``failed``: whether an earlier failure is in scope (``when`` and ``pre``);
- ``run``: ``run.status``, ``run.failures`` (each ``{path, reason}``), ``run.duration``;
- in ``post``: ``exit_code`` (nil when none), ``result`` (true when the job
  succeeded so far), ``reason`` and ``outputs`` (which it may change).

``skip(reason)`` (pre) skips the job; ``fail(reason)`` fails it;
``succeed(reason)`` (post) overrides a failure. ``print`` lines go to the
job's log. Scripts run in worker processes (``containerops.lua.pool``), so the
engine's loop keeps going while one runs, and one that runs past
``MAX_SECONDS`` is killed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from containerops.engine.environment import filled
from containerops.engine.prepared import PreparedRun
from containerops.engine.state import FINISHED, JobState, JobStatus, RunState
from containerops.lua.pool import default_pool
from containerops.lua.sandbox import ScriptError
from containerops.model.flow import Job
from containerops.store.values import utcnow


@dataclass(slots=True)
class Verdict:
    """What a script decided: changed tables, and perhaps skip/fail/succeed with a reason."""

    tables: dict[str, dict[str, str]]
    action: str | None = None
    reason: str | None = None
    printed: list[str] = field(default_factory=list)


#: Wall-clock seconds a script may run (read at each call); past them its worker is killed.
MAX_SECONDS = 10.0


def finished_jobs(state: RunState) -> dict[str, dict[str, Any]]:
    return {
        path: {"status": js.status, "outputs": dict(js.outputs), "exit_code": js.exit_code}
        for path, js in state.jobs.items()
        if js.status in FINISHED
    }


async def condition(expression: str, values: Mapping[str, Any]) -> bool:
    """A ``when:`` expression's truth (Lua's: only nil and false are false)."""
    outcome = await default_pool().run(f"return {expression}", "when", values, seconds=MAX_SECONDS)
    return outcome.value is not None and outcome.value is not False


async def script(code: str, name: str, values: Mapping[str, Any], read_back: tuple[str, ...]) -> Verdict:
    outcome = await default_pool().run(code, name, values, seconds=MAX_SECONDS, read_back=read_back)
    tables = {key: _strings(outcome.tables.get(key), f"{name}: {key}") for key in read_back}
    return Verdict(tables, outcome.action, outcome.reason, outcome.printed)


def _strings(value: Any, where: str) -> dict[str, str]:
    """A table a script left as ``{string: string}``; numbers and booleans are written as text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScriptError(f"{where} must be a table, got {type(value).__name__}")
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ScriptError(f"{where} has a key that is not text: {key!r}")
        if isinstance(item, bool):
            result[key] = "true" if item else "false"
        elif isinstance(item, int | float | str):
            result[key] = str(item)
        else:
            raise ScriptError(f"{where}.{key} must be text, a number or a boolean")
    return result


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The names a script set or removed, for the job's history."""
    changed = [key for key, value in after.items() if before.get(key) != value]
    removed = [key for key in before if key not in after]
    return sorted(changed) + [f"-{key}" for key in sorted(removed)]


#: Variables a script cannot change: the run's identity, set last.
IDENTITY = ("CO_RUN_ID", "CO_FLOW_URI", "CO_JOB_PATH", "CO_ATTEMPT")


@dataclass(slots=True)
class Launch:
    """How a job is started once its ``pre`` script (if any) has had its say."""

    job: Job  # with the inputs ``pre`` left
    subscribed: dict[str, str]
    env_set: dict[str, str] = field(default_factory=dict)
    env_unset: frozenset[str] = frozenset()

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """The attempt's environment with what ``pre`` set and removed; the identity stays."""
        if not (self.env_set or self.env_unset):
            return env
        identity = {key: env[key] for key in IDENTITY if key in env}
        for key in self.env_unset:
            env.pop(key, None)
        env.update(self.env_set)
        env.update(identity)
        return env


# -- the steps of a job that run its Lua ------------------------------------------------
#: An attempt's result as ``post`` sees it: (status, exit code, reason, outputs).
Result = tuple[JobStatus, int | None, str | None, dict[str, str]]


def script_values(
    run: PreparedRun, job: Job, failure: str | None, subscribed: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What a job's Lua sees: its inputs and environment, the finished jobs, the failure."""
    environments, inputs = filled(job, run.values, subscribed)
    env = {**run.flow_env, **environments, **(subscribed or {})}
    return {
        "inputs": inputs,
        "env": env,
        "jobs": finished_jobs(run.state),
        "failed": failure is not None,
        "failure": failure,
        "run": run_so_far(run),
    }


def run_so_far(run: PreparedRun) -> dict[str, Any]:
    """``run.status`` (cancelled or failure once interrupted; failure once a job failed;
    else running), ``run.failures`` (path and reason of each failed job) and
    ``run.duration`` (seconds so far): what an exit handler decides on."""
    state = run.state
    failures = [
        {"path": path, "reason": js.reason or ""} for path, js in state.jobs.items() if js.status == "failure"
    ]
    status = run.interrupt[0] if run.interrupt else "failure" if failures else "running"
    duration = (utcnow() - state.started_at).total_seconds() if state.started_at else 0.0
    return {"status": status, "failures": failures, "duration": round(duration, 3)}


async def when_step(run: PreparedRun, js: JobState, failure: str | None) -> tuple[JobStatus, str] | None:
    """None when the job's ``when`` expression says run, else its (status, reason)."""
    assert js.job.condition is not None
    try:
        if await condition(js.job.condition, script_values(run, js.job, failure)):
            return None
    except ScriptError as error:
        return "failure", str(error)
    return "skipped", "skipped: its when expression is false"


async def pre_step(run: PreparedRun, js: JobState, launch: Launch, failure: str | None) -> bool:
    """Run the job's ``pre`` script; False when it settled the job (skipped or failed)."""
    job = js.job
    assert job.pre is not None
    values = script_values(run, job, failure, launch.subscribed)
    try:
        verdict = await script(job.pre, "pre", values, ("inputs", "env"))
    except ScriptError as error:
        run.settle(js, "failure", str(error))
        return False
    _log(run, js, js.attempts + 1, "pre", verdict.printed)
    why = verdict.reason or "no reason given"
    if verdict.action == "skip":
        run.settle(js, "skipped", f"skipped by its pre script: {why}")
        return False
    if verdict.action == "fail":
        run.settle(js, "failure", f"failed by its pre script: {why}")
        return False
    inputs, env = verdict.tables["inputs"], verdict.tables["env"]
    notes = []
    if changed := changes(values["inputs"], inputs):
        launch.job = dataclasses.replace(job, inputs=inputs)
        notes.append(f"inputs {', '.join(changed)}")
    if changed := changes(values["env"], env):
        launch.env_set = {k: v for k, v in env.items() if values["env"].get(k) != v}
        launch.env_unset = frozenset(values["env"]) - frozenset(env)
        notes.append(f"environment {', '.join(changed)}")
    if notes:
        run.reporter.change(js.id, None, "pending", utcnow(), f"pre script changed {'; '.join(notes)}")
    return True


async def post_step(
    run: PreparedRun, js: JobState, attempt: int, launch: Launch, result: Result
) -> tuple[JobStatus, str | None, dict[str, str]]:
    """Run the job's ``post`` script on an attempt's result: (status, reason, outputs)."""
    status, exit_code, reason, outputs = result
    assert launch.job.post is not None
    values = script_values(run, launch.job, None, launch.subscribed)
    values.update(exit_code=exit_code, result=status == "success", reason=reason, outputs=dict(outputs))
    try:
        verdict = await script(launch.job.post, "post", values, ("outputs",))
    except ScriptError as error:
        return "failure", str(error), outputs
    _log(run, js, attempt, "post", verdict.printed)
    new_outputs = {key: run.masker.mask(value) for key, value in verdict.tables["outputs"].items()}
    notes = []
    if changed := changes(outputs, new_outputs):
        notes.append(f"set outputs {', '.join(changed)}")
    why = verdict.reason or "no reason given"
    if verdict.action == "fail":
        status, reason = "failure", f"failed by its post script: {why}"
    elif verdict.action == "succeed" and status != "success":
        status, reason = "success", f"post script overrode the failure ({reason}): {why}"
        notes.append(reason)
    if notes:
        run.reporter.change(js.id, attempt, "running", utcnow(), f"post script: {'; '.join(notes)}")
    return status, reason, new_outputs


def _log(run: PreparedRun, js: JobState, attempt: int, name: str, lines: list[str]) -> None:
    for line in lines:
        run.log_line(js, attempt, f"[{name}] {line}")
