#!/usr/bin/env python3
"""What running scripts in killable worker processes costs: ``when`` evaluations, pool against in-process.

``pool``: ``engine.scripts.condition`` as the engine awaits it, one after another in
an event loop: the request encoded as JSON, a pipe round trip to a warm worker of
``containerops.lua.pool`` (which makes a fresh sandboxed Lua state and runs it) and
the reply decoded. ``in_process``: ``containerops.lua.sandbox.evaluate`` called
directly in this thread (the same fresh Lua state, no pipe, no thread): the floor,
and what a script cost before it could be killed. Every evaluation gets a realistic
``values`` (30 environment variables, 10 finished jobs with outputs) and is checked
for the value it must give. Sides alternate round by round; medians are quoted.

``cold_start_ms``: the first script of a fresh pool, its worker process started
(``python -m containerops.lua.worker``: the interpreter and lupa) and then used.

Targets: the pool's overhead per script (pool - in-process) under 1 ms, and a cold
start under 250 ms.

Examples::

    .venv/bin/python bench/lua_scripts.py
    .venv/bin/python bench/lua_scripts.py --quick --json /tmp/lua.json
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from _benchlib import BenchError, Results, add_standard_args, alternate, median

from containerops.engine import scripts
from containerops.lua import sandbox
from containerops.lua.pool import Pool, default_pool

NAME = "lua_scripts"
EXPRESSION = "jobs['build.unit.test3'].outputs.CO_URL ~= nil and env.CO_BRANCH == 'main' and not failed"
OVERHEAD_TARGET_MS = 1.0
COLD_TARGET_MS = 250.0


def values(number: int) -> dict[str, Any]:
    env = {f"CO_VAR_{i}": f"value {i} of the run" for i in range(29)}
    env["CO_BRANCH"] = "main" if number % 2 == 0 else "dev"
    jobs = {
        f"build.unit.test{i}": {"status": "success", "outputs": {"CO_URL": f"http://x/{i}"}, "exit_code": 0}
        for i in range(10)
    }
    return {"env": env, "jobs": jobs, "failed": False, "inputs": {"mode": "full"}}


def in_process(count: int) -> float:
    began = time.perf_counter()
    for number in range(count):
        if sandbox.evaluate(EXPRESSION, "when", values(number)) is not (number % 2 == 0):
            raise BenchError(f"in-process evaluation {number} gave the wrong value")
    return time.perf_counter() - began


def pooled(count: int) -> float:
    async def evaluate() -> float:
        began = time.perf_counter()
        for number in range(count):
            if await scripts.condition(EXPRESSION, values(number)) is not (number % 2 == 0):
                raise BenchError(f"pool evaluation {number} gave the wrong value")
        return time.perf_counter() - began

    return asyncio.run(evaluate())


def cold_start() -> float:
    pool = Pool(1)
    try:
        began = time.perf_counter()
        if pool.run_sync(f"return {EXPRESSION}", "when", values(0), seconds=30).value is not True:
            raise BenchError("the cold pool gave the wrong value")
        return time.perf_counter() - began
    finally:
        pool.close()


def main() -> int:
    parser = add_standard_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument("--count", type=int, default=None, help="evaluations a round (1000; --quick 200)")
    parser.add_argument("--rounds", type=int, default=None, help="measured rounds (7; 3 with --quick)")
    args = parser.parse_args()
    count = args.count or (200 if args.quick else 1000)
    rounds = args.rounds or (3 if args.quick else 7)
    results = Results(NAME)
    try:
        colds = [cold_start() for _ in range(rounds)]
        pooled(1)  # the default pool's worker started, as a long-lived engine has it
        taken = alternate({"in_process": lambda: in_process(count), "pool": lambda: pooled(count)}, rounds, 1)
    except BenchError as error:
        results.fail(str(error))
        return results.finish(args.json)
    finally:
        default_pool().close()
    results.add("evaluations_per_round", count)
    inside = results.add("in_process_ms_per_script", median(taken["in_process"]) / count * 1000, 4)
    pool = results.add("pool_ms_per_script", median(taken["pool"]) / count * 1000, 4)
    assert isinstance(inside, float) and isinstance(pool, float)
    results.add("overhead_ms_per_script", pool - inside, 4)
    results.add("ratio", pool / inside)
    results.add("cold_start_ms", median(colds) * 1000, 1)
    results.target("overhead_ms_per_script", "<", OVERHEAD_TARGET_MS)
    results.target("cold_start_ms", "<", COLD_TARGET_MS)
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
