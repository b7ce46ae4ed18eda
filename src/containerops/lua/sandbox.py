"""An embedded, sandboxed Lua for the ``pre:``, ``post:`` and ``when:`` scripts of jobs.

Scripts are written by whoever writes flows: they must not reach the machine,
hang the engine or eat its memory. This module is the Lua side: the engine never
calls ``run`` itself but hands scripts to ``containerops.lua.pool``, whose
worker processes call it and are killed when a script runs past its time limit.
Each evaluation gets a fresh Lua state (lupa, Lua 5.4) with:

- only pure libraries: the base functions that do not load code or touch
  metatables, and copies of ``string`` (without ``dump``), ``table``,
  ``math`` and ``utf8``. No ``io``, ``os``, ``require``, ``package``,
  ``load``, ``loadstring``, ``dofile``, ``loadfile``, ``debug``,
  ``collectgarbage``, ``coroutine`` (a hook is per coroutine),
  ``setmetatable``/``getmetatable`` (a ``__gc`` finaliser runs with hooks
  off), nor lupa's ``python`` bridge: only plain data goes in and comes out;
- an instruction budget (a count hook) that ends the script, which
  ``pcall`` cannot swallow: the wrapped ``pcall``/``xpcall`` re-raise once the
  budget or the memory is exhausted, and an ``xpcall`` handler is not called
  for the budget's error (the hook is off while it would run). ``string.rep``
  charges the bytes it writes to the same budget (C work no hook sees);
- a memory limit (lupa's ``max_memory``): ``string.rep`` bombs and growing
  tables end with a memory error instead of growing the process;
- pattern functions (``find``, ``match``, ``gmatch``, ``gsub``) that refuse a
  pattern whose worst-case backtracking over the given text is too long, the
  text being a string or a number (Lua matches a number's digits): they run in
  C, where the instruction hook cannot stop them.

Whatever these miss, the worker's time limit ends (``containerops.lua.pool``).
What a script may do to its job is given by the caller as plain data in, and
read back as plain data out (``run``); ``print`` collects lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import lupa.lua54 as lupa

#: Lua VM instructions a script may execute (a hundred milliseconds or so).
MAX_INSTRUCTIONS = 20_000_000
#: Bytes a script's Lua state may allocate, its inputs included.
MAX_MEMORY = 64 * 2**20
#: Worst-case steps a pattern match may take: ``(len + 1) ** (repetitions + 1)`` (seconds at most).
MAX_PATTERN_COST = 2e8
#: Lines ``print`` keeps, and their length.
MAX_PRINTED = 1000
_HOOK_EVERY = 1000
#: Bytes ``string.rep`` may write for the cost of one Lua instruction (a memset is that much faster).
_BYTES_PER_INSTRUCTION = 16

_SETUP = """
local budget, actions, printed = ...
local sethook, load, pcall, xpcall, error = debug.sethook, load, pcall, xpcall, error
local tostring, select, concat = tostring, select, table.concat
local state = {exceeded = false, memory = false}
local hooks = 0
string.dump = nil

local function copy(lib)
  local result = {}
  for key, value in pairs(lib) do result[key] = value end
  return result
end

-- Pattern matching runs in C, out of the hook's reach: refuse a pattern whose worst case
-- (backtracking over every repetition) is too long for the subject it is given.
local sub = string.sub
local function repetitions(pattern)
  local count, i, n = 0, 1, #pattern
  while i <= n do
    local c = sub(pattern, i, i)
    if c == "%" then
      i = i + 2
    elseif c == "[" then
      i = i + 1
      if sub(pattern, i, i) == "^" then i = i + 1 end
      if sub(pattern, i, i) == "]" then i = i + 1 end
      while i <= n and sub(pattern, i, i) ~= "]" do
        if sub(pattern, i, i) == "%" then i = i + 1 end
        i = i + 1
      end
      i = i + 1
    else
      if c == "*" or c == "+" or c == "-" or c == "?" then count = count + 1 end
      i = i + 1
    end
  end
  return count
end
local function guarded(name, f, plain_at)
  return function(...)
    local subject, pattern = ...
    local plain = plain_at and select(plain_at, ...)
    -- Lua matches a number as its text: measure it as the text it becomes.
    if type(subject) == "number" then subject = tostring(subject) end
    if type(pattern) == "number" then pattern = tostring(pattern) end
    if type(subject) == "string" and type(pattern) == "string" and not plain then
      local k = repetitions(pattern)
      local anchored = sub(pattern, 1, 1) == "^" and name ~= "gmatch"
      local cost = (#subject + 1.0) ^ (k + (anchored and 0 or 1))
      if k > 0 and cost > budget.pattern then
        error(("string.%s: a pattern with %d repetitions over %d characters may take too long; "
               .. "match shorter text, use fewer repetitions, or a plain find"):format(name, k, #subject), 2)
      end
    end
    return f(...)
  end
end
string.find = guarded("find", string.find, 4)
string.match = guarded("match", string.match)
string.gmatch = guarded("gmatch", string.gmatch)
string.gsub = guarded("gsub", string.gsub)

-- string.rep writes its bytes in C, out of the hook's reach: charge them to the budget.
local rep = string.rep
string.rep = function(...)
  local result = rep(...)
  hooks = hooks + #result / budget.rep_bytes
  if hooks > budget.hooks then
    state.exceeded = true
    error("__coops_budget__", 0)
  end
  return result
end

local env = {}
for _, name in ipairs({"assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget", "rawlen",
                       "rawset", "select", "tonumber", "tostring", "type"}) do
  env[name] = _G[name]
end
env.string, env.table, env.math, env.utf8 = copy(string), copy(table), copy(math), copy(utf8)
env.unpack = table.unpack
env._VERSION = _VERSION

local function check(ok, ...)
  if state.exceeded then error("__coops_budget__", 0) end
  if not ok then
    local err = ...
    if err == "not enough memory" then state.memory = true; error(err, 0) end
  end
  return ok, ...
end
env.pcall = function(f, ...) return check(pcall(f, ...)) end
-- The budget's error is raised in the hook, where hooks are off: a handler called for it
-- would run unbounded, so it is not called then.
env.xpcall = function(f, handler, ...)
  local function guarded_handler(err)
    if state.exceeded or state.memory then return err end
    return handler(err)
  end
  return check(xpcall(f, guarded_handler, ...))
end

env.print = function(...)
  if #printed < budget.printed then
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    printed[#printed + 1] = concat(parts, "\\t")
  end
end
local function act(kind)
  return function(reason)
    if actions.kind == nil then
      actions.kind = kind
      actions.reason = reason ~= nil and tostring(reason) or nil
    end
  end
end
env.skip, env.fail, env.succeed = act("skip"), act("fail"), act("succeed")

local function hook()
  hooks = hooks + 1
  if hooks > budget.hooks then
    state.exceeded = true
    error("__coops_budget__", 0)
  end
end

local function run(code, name, values)
  for key, value in pairs(values) do env[key] = value end
  local chunk, err = load(code, "=" .. name, "t", env)
  if not chunk then error(err, 0) end
  sethook(hook, "", budget.every)
  local result = table.pack(pcall(chunk))
  sethook()
  if state.exceeded then error("__coops_budget__", 0) end
  if not result[1] then error(result[2], 0) end
  return result[2]
end

local function syntax(code, name)
  local chunk, err = load(code, "=" .. name, "t", {})
  return err
end

for _, name in ipairs({"io", "os", "require", "package", "load", "loadstring", "dofile", "loadfile",
                       "debug", "collectgarbage", "coroutine", "python", "setmetatable",
                       "getmetatable", "warn"}) do
  _G[name] = nil
end
return run, syntax, state, env
"""

_POSITION = re.compile(r"^(?P<name>[^:]+):(?P<line>\d+): (?P<message>.*)$", re.DOTALL)


class ScriptError(Exception):
    """A script that did not complete: a Lua error, its budget or its memory exhausted.

    The message says which script and why, in words fit for a job's reason.
    """


@dataclass(slots=True)
class Outcome:
    """What a script did: its value (for ``when``), the tables it may have changed, its verdict."""

    value: Any
    tables: dict[str, Any]
    action: str | None = None  # skip | fail | succeed
    reason: str | None = None
    printed: list[str] = field(default_factory=list)


class _Sandbox:
    def __init__(self, max_instructions: int, max_memory: int, max_pattern_cost: float) -> None:
        self.lua = lupa.LuaRuntime(
            max_memory=max_memory, register_eval=False, register_builtins=False, unpack_returned_tuples=True
        )
        budget = self.lua.table_from(
            {
                "hooks": max(1, max_instructions // _HOOK_EVERY),
                "every": _HOOK_EVERY,
                "printed": MAX_PRINTED,
                "pattern": max_pattern_cost,
                "rep_bytes": _BYTES_PER_INSTRUCTION * _HOOK_EVERY,
            }
        )
        self.actions = self.lua.table()
        self.printed = self.lua.table()
        setup = self.lua.execute(_SETUP, budget, self.actions, self.printed)
        self.run, self.syntax, self.state, self.env = setup


def run(
    code: str,
    name: str,
    values: Mapping[str, Any],
    *,
    read_back: tuple[str, ...] = (),
    max_instructions: int = MAX_INSTRUCTIONS,
    max_memory: int = MAX_MEMORY,
    max_pattern_cost: float | None = None,
) -> Outcome:
    """Run ``code`` (a chunk; ``return`` gives its value) with ``values`` as globals.

    ``read_back`` names the globals whose final value (plain data) the caller
    wants. ``max_pattern_cost`` defaults to ``MAX_PATTERN_COST`` as it is at
    the call. Raises ``ScriptError`` with a clear reason on any failure.
    """
    pattern_cost = MAX_PATTERN_COST if max_pattern_cost is None else max_pattern_cost
    try:
        box = _Sandbox(max_instructions, max_memory, pattern_cost)
        table = box.lua.table_from({key: _lua_value(value) for key, value in values.items()}, recursive=True)
        value = box.run(code, name, table)
        tables = {key: _plain(box.env[key], f"{name}: {key}") for key in read_back}
        action = box.actions["kind"]
        reason = box.actions["reason"]
        printed = [str(line)[:4096] for line in box.printed.values()]
        return Outcome(_plain(value, f"{name}: the value"), tables, action, reason, printed)
    except lupa.LuaMemoryError:
        raise ScriptError(f"{name} script used more than {max_memory // 2**20} MiB of memory") from None
    except lupa.LuaError as error:
        state = getattr(locals().get("box"), "state", None)
        text = str(error)
        if "__coops_budget__" in text or (state is not None and state["exceeded"]):
            raise ScriptError(
                f"{name} script ran too long (more than {max_instructions:,} Lua instructions)"
            ) from None
        if "not enough memory" in text or (state is not None and state["memory"]):
            raise ScriptError(f"{name} script used more than {max_memory // 2**20} MiB of memory") from None
        raise ScriptError(f"{name} script failed: {_message(text, name)}") from None
    except MemoryError:
        raise ScriptError(f"{name} script used more than {max_memory // 2**20} MiB of memory") from None


def evaluate(expression: str, name: str, values: Mapping[str, Any], **limits: Any) -> Any:
    """The value of a Lua expression (``when:``)."""
    return run(f"return {expression}", name, values, **limits).value  # type: ignore[arg-type]


_checker: _Sandbox | None = None


def syntax_error(code: str, name: str, *, expression: bool = False) -> tuple[int, str] | None:
    """``(line, message)`` of the first syntax error in ``code``, or None when it compiles."""
    global _checker
    if _checker is None:
        _checker = _Sandbox(MAX_INSTRUCTIONS, MAX_MEMORY, MAX_PATTERN_COST)
    text = f"return {code}" if expression else code
    try:
        error = _checker.syntax(text, name)
    except lupa.LuaError as exc:  # the checker itself ran out of memory: start a fresh one
        _checker = None
        return 1, str(exc)
    if error is None:
        return None
    match = _POSITION.match(str(error))
    if match is None:
        return 1, str(error)
    return int(match["line"]), match["message"]


def _message(text: str, name: str) -> str:
    """A Lua error without the chunk's name, with its line: ``line 3: attempt to ...``."""
    match = _POSITION.match(text)
    if match is not None and match["name"] == name:
        return f"line {match['line']}: {match['message']}"
    return text


def _lua_value(value: Any) -> Any:
    """Plain data as lupa builds tables from it (nested mappings and lists)."""
    if isinstance(value, Mapping):
        return {str(key): _lua_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_lua_value(item) for item in value]
    return value


def _plain(value: Any, where: str, depth: int = 0) -> Any:
    """A Lua value back as plain Python data; functions and the like are refused."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if lupa.lua_type(value) == "table" and depth < 20:
        return {
            key if isinstance(key, str | int) else str(key): _plain(item, where, depth + 1)
            for key, item in value.items()
        }
    raise ScriptError(f"{where} is a Lua {lupa.lua_type(value) or type(value).__name__}, not plain data")
