"""A job's Lua: ``when:`` expressions, ``pre:`` and ``post:`` scripts (see ``engine.lua``).

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
job's log. Scripts run in a worker thread, so the engine's loop keeps going
while one runs to the end of its budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from containerops.engine import lua
from containerops.engine.state import FINISHED, RunState
from containerops.model.flow import Job


@dataclass(slots=True)
class Verdict:
    """What a script decided: changed tables, and perhaps skip/fail/succeed with a reason."""

    tables: dict[str, dict[str, str]]
    action: str | None = None
    reason: str | None = None
    printed: list[str] = field(default_factory=list)


#: Wall-clock seconds the engine waits for a script, whatever its budgets say.
MAX_SECONDS = 10.0


async def _in_thread(name: str, function: Callable[..., Any], *args: Any) -> Any:
    """Run a script in a thread of its own and wait at most ``MAX_SECONDS`` for it.

    Lua runs without the GIL, so the engine's loop goes on meanwhile. A script
    still running at the deadline (stuck in a C function the budgets do not
    reach) is left to its thread, a daemon, and the job fails.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        try:
            result, error = function(*args), None
        except BaseException as exc:  # handed to the waiting task, whatever it is
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name=f"lua-{name}", daemon=True).start()
    try:
        return await asyncio.wait_for(future, MAX_SECONDS)
    except TimeoutError:
        raise lua.ScriptError(f"{name} script ran too long (more than {MAX_SECONDS:g} s)") from None


def finished_jobs(state: RunState) -> dict[str, dict[str, Any]]:
    return {
        path: {"status": js.status, "outputs": dict(js.outputs), "exit_code": js.exit_code}
        for path, js in state.jobs.items()
        if js.status in FINISHED
    }


async def condition(expression: str, values: Mapping[str, Any]) -> bool:
    """A ``when:`` expression's truth (Lua's: only nil and false are false)."""
    value = await _in_thread("when", lua.evaluate, expression, "when", values)
    return value is not None and value is not False


async def script(code: str, name: str, values: Mapping[str, Any], read_back: tuple[str, ...]) -> Verdict:
    outcome = await _in_thread(name, functools.partial(lua.run, read_back=read_back), code, name, values)
    tables = {key: _strings(outcome.tables.get(key), f"{name}: {key}") for key in read_back}
    return Verdict(tables, outcome.action, outcome.reason, outcome.printed)


def _strings(value: Any, where: str) -> dict[str, str]:
    """A table a script left as ``{string: string}``; numbers and booleans are written as text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise lua.ScriptError(f"{where} must be a table, got {type(value).__name__}")
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise lua.ScriptError(f"{where} has a key that is not text: {key!r}")
        if isinstance(item, bool):
            result[key] = "true" if item else "false"
        elif isinstance(item, int | float | str):
            result[key] = str(item)
        else:
            raise lua.ScriptError(f"{where}.{key} must be text, a number or a boolean")
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
