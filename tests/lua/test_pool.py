"""Scripts run in worker processes that are killed when a script runs past its time limit.

The scripts of issue 10 kept a core busy after their job had failed: an ``xpcall``
whose handler loops (hooks are off in it), ``string.find`` on a number (the pattern
guard looked at strings only) and loops of ``string.rep`` (C work the instruction
budget did not count). Each now fails with its own reason, and whatever slips past
the sandbox's guards is stopped by killing its worker: checked on the process
itself (``/proc``), not by timing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from containerops.engine import scripts
from containerops.lua import sandbox
from containerops.lua.pool import Pool, default_pool
from containerops.lua.sandbox import ScriptError

XPCALL = "xpcall(function() while true do end end, function() while true do end end)"
FIND_ON_A_NUMBER = "return string.find(1234567890123456789, string.rep('%d?', 40) .. 'x')"
REP_LOOP = "for i = 1, 1e9 do local s = string.rep('x', 1e6) end"

ISSUE_SCRIPTS = [
    (XPCALL, "pre script ran too long (more than 20,000,000 Lua instructions)"),
    (FIND_ON_A_NUMBER, "string.find: a pattern with 40 repetitions over 19 characters may take too long"),
    (REP_LOOP, "pre script ran too long (more than 20,000,000 Lua instructions)"),
]
IDS = ["xpcall", "find-number", "rep-loop"]
#: The sandbox's own guards loosened, so that only the time limit can stop these scripts.
LOOSE = {"max_instructions": 10**15, "max_memory": sandbox.MAX_MEMORY, "max_pattern_cost": 1e300}


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a zombie uses no CPU)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone before, or while, it was read
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def idle(pid: int) -> bool:
    """Whether worker ``pid`` is asleep (waiting for its next request), polled for a while."""
    for _ in range(500):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "S":
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def pool() -> Iterator[Pool]:
    pool = Pool(1)
    yield pool
    pool.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("code", "reason"), ISSUE_SCRIPTS, ids=IDS)
def test_the_issue_scripts_fail_with_their_own_reason_and_leave_no_cpu_used(
    code: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scripts, "MAX_SECONDS", 30.0)  # far beyond what the sandbox's guards take

    async def attempt() -> None:
        with pytest.raises(ScriptError) as caught:
            await scripts.script(code, "pre", {}, ())
        assert reason in str(caught.value)

    asyncio.run(attempt())
    pool = default_pool()
    assert pool.busy() == []
    assert pool.workers() and all(idle(pid) for pid in pool.workers())


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "call",
    [
        "string.find(1234567890123456789, P)",
        "string.match(1234567890123456789, P)",
        "string.gmatch(1234567890123456789, P)()",
        "string.gsub(1234567890123456789, P, '')",
        "string.find('x', 1234567890123456789 .. P)",
    ],
)
def test_the_pattern_guard_measures_a_number_as_its_text(pool: Pool, call: str) -> None:
    code = f"local P = string.rep('%d?', 40) .. 'x'\nreturn {call}"
    refused = r"a pattern with 4\d repetitions over \d+ characters may take too long"
    with pytest.raises(ScriptError, match=refused):
        pool.run_sync(code, "pre", {}, seconds=30)
    assert pool.run_sync("return string.find(12345, '3%d+')", "when", {}, seconds=30).value == 3


@pytest.mark.timeout(60)
@pytest.mark.parametrize("code", [XPCALL, FIND_ON_A_NUMBER, REP_LOOP], ids=IDS)
def test_a_script_past_its_time_limit_is_killed_with_its_worker(pool: Pool, code: str) -> None:
    assert pool.run_sync("return 1", "when", {}, seconds=30).value == 1
    (pid,) = pool.workers()
    with pytest.raises(ScriptError, match=r"^pre script ran past its time limit of 1 s$"):
        pool.run_sync(code, "pre", {}, seconds=1, limits=LOOSE)
    assert not running(pid)
    assert pid not in pool.workers() and pool.busy() == []
    # the next script gets a fresh worker
    assert pool.run_sync("return 2", "when", {}, seconds=30).value == 2
    assert pool.workers() != [pid]


@pytest.mark.timeout(60)
def test_the_engine_kills_a_when_expression_stuck_in_c(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_PATTERN_COST", 1e300)  # let the pattern through, to reach the limit
    monkeypatch.setattr(scripts, "MAX_SECONDS", 0.5)
    expression = FIND_ON_A_NUMBER.removeprefix("return ")

    async def attempt() -> int:
        task = asyncio.create_task(scripts.condition(expression, {}))
        while not default_pool().busy():
            await asyncio.sleep(0.005)
        (pid,) = default_pool().busy()
        with pytest.raises(ScriptError, match=r"^when script ran past its time limit of 0.5 s$"):
            await task
        return pid

    pid = asyncio.run(attempt())
    assert not running(pid)


@pytest.mark.timeout(60)
def test_cancelling_the_caller_kills_the_worker(pool: Pool) -> None:
    async def attempt() -> int:
        task = asyncio.create_task(pool.run("while true do end", "pre", {}, seconds=60, limits=LOOSE))
        while not pool.busy():
            await asyncio.sleep(0.005)
        (pid,) = pool.busy()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return pid

    pid = asyncio.run(attempt())
    for _ in range(500):  # the kill happens as the task is cancelled; the reaping in the caller's thread
        if not running(pid):
            break
        time.sleep(0.01)
    assert not running(pid)


def test_values_and_results_cross_the_pipe_as_they_are(pool: Pool) -> None:
    values = {"env": {"A": "line\nnext", "B": "é ✓"}, "jobs": {"s.a.j": {"outputs": {"X": "1"}, "ok": True}}}
    code = (
        "print('a', env.B)\nenv.C = env.A .. '!'\noutputs = {n = 1.5, t = {1, 'two'}}\n"
        "fail('no: ' .. jobs['s.a.j'].outputs.X)\nreturn {10, x = {y = false}}"
    )
    outcome = pool.run_sync(code, "post", values, seconds=30, read_back=("env", "outputs"))
    assert outcome.value == {1: 10, "x": {"y": False}}
    assert outcome.tables == {
        "env": {"A": "line\nnext", "B": "é ✓", "C": "line\nnext!"},
        "outputs": {"n": 1.5, "t": {1: 1, 2: "two"}},
    }
    assert (outcome.action, outcome.reason, outcome.printed) == ("fail", "no: 1", ["a\té ✓"])
    with pytest.raises(ScriptError, match=r"^post script failed: line 2: boom$"):
        pool.run_sync("local a = 1\nerror('boom')", "post", {}, seconds=30)


def test_a_worker_gives_back_what_a_memory_bomb_took(pool: Pool) -> None:
    bomb = "local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(1000) .. i end"
    with pytest.raises(ScriptError, match="used more than 64 MiB of memory"):
        pool.run_sync(bomb, "pre", {}, seconds=30)
    (pid,) = pool.workers()
    assert idle(pid)
    status = Path(f"/proc/{pid}/status").read_text()
    resident = int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
    assert resident < 40 * 1024, f"an idle worker holds {resident} KiB"


@pytest.mark.timeout(60)
def test_more_scripts_than_workers_wait_for_one() -> None:
    pool = Pool(2)
    try:

        async def many() -> list[object]:
            calls = [pool.run(f"return {i} * 2", "when", {}, seconds=30) for i in range(8)]
            return [outcome.value for outcome in await asyncio.gather(*calls)]

        assert asyncio.run(many()) == [i * 2 for i in range(8)]
        assert len(pool.workers()) <= 2
    finally:
        pool.close()


@pytest.mark.timeout(60)
def test_a_killed_parent_leaves_no_worker_behind(tmp_path: Path) -> None:
    program = textwrap.dedent(
        """
        import sys, threading
        from containerops.lua.pool import Pool, default_pool
        pool = default_pool()
        pool.run_sync("return 1", "when", {}, seconds=30)
        idle = pool.workers()
        limits = {"max_instructions": 10**15, "max_memory": 2**26, "max_pattern_cost": 1e300}
        forever = {"seconds": 600, "limits": limits}
        threading.Thread(target=pool.run_sync, args=("while true do end", "pre", {}), kwargs=forever).start()
        while len(pool.busy()) < 1:
            pass
        print(" ".join(str(pid) for pid in idle + pool.busy()), flush=True)
        threading.Event().wait()
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(running(pid) for pid in pids)
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
    for _ in range(1000):  # the kernel signals the workers as the parent dies
        if not any(running(pid) for pid in pids):
            break
        time.sleep(0.01)
    assert not any(running(pid) for pid in pids)
