"""A job's Lua: ``when:`` expressions, ``pre:`` and ``post:`` scripts (see ``containerops.lua``).

What a script sees (all plain data):

- ``inputs`` and ``env``: the job's inputs and environment (flow and job
  environments, subscribed values); ``pre`` may change both;
- ``jobs``: every job that has finished, by path:
  ``jobs["build.unit.test"].outputs.CO_URL``, ``.status``;
- ``failed``: whether an earlier failure is in scope (``when`` and ``pre``);
- in ``post``: ``exit_code`` (nil when none), ``result`` (true when the job
  succeeded so far), ``reason`` and ``outputs`` (which it may change).

``skip(reason)`` (pre) skips the job; ``fail(reason)`` fails it;
``succeed(reason)`` (post) overrides a failure. ``print`` lines go to the
job's log. Scripts run in worker processes (``containerops.lua.pool``), so the
engine's loop keeps going while one runs, and one that runs past
``MAX_SECONDS`` is killed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from containerops.engine.state import FINISHED, RunState
from containerops.lua.pool import default_pool
from containerops.lua.sandbox import ScriptError
from containerops.model.flow import Job


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
