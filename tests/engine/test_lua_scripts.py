"""Lua around jobs: pre and post scripts, when expressions, and the sandbox's limits."""

from __future__ import annotations

import pytest

from containerops.contract.codata import decode_co_data
from containerops.engine import scripts
from containerops.executors.dummy import DummyExecutor
from containerops.lua import sandbox as lua
from containerops.store import Store
from containerops.store.runs import state_changes
from tests.engine.scenarios import Behaviour, action, job, run_flow, simple_flow, stage


def one_job(**keys: object) -> dict[str, object]:
    body = job("j", "dummy", keys.pop("behaviour", Behaviour()), **keys)  # type: ignore[arg-type]
    return simple_flow([stage("s", action("a", body))])


def test_pre_changes_inputs_and_environment(store: Store) -> None:
    executor = DummyExecutor()
    pre = "inputs.mode = inputs.mode .. '-fast'\ninputs.extra = 3\nenv.GREETING = 'hello'\nenv.DROP = nil\n"
    doc = one_job(inputs={"mode": "full"}, environments={"DROP": "x"}, pre=pre)
    state = run_flow(store, executor, doc)
    assert state.status == "success"
    env = executor.started[0].env
    assert (env["CO_MODE"], env["CO_EXTRA"], env["GREETING"]) == ("full-fast", "3", "hello")
    assert "DROP" not in env
    assert decode_co_data(env["CO_DATA"]) == {"mode": "full-fast", "extra": "3"}
    notes = [c["reason"] for c in state_changes(store, state.id) if c["job"] == "s.a.j"]
    assert "pre script changed inputs extra, mode; environment GREETING, -DROP" in notes


def test_pre_cannot_forge_the_run_identity(store: Store) -> None:
    executor = DummyExecutor()
    run_flow(store, executor, one_job(pre="env.CO_RUN_ID = '0'\nenv.CO_JOB_PATH = 'x.y.z'"))
    env = executor.started[0].env
    assert env["CO_JOB_PATH"] == "s.a.j" and env["CO_RUN_ID"] != "0"


@pytest.mark.parametrize(
    ("pre", "status", "reason"),
    [
        ("skip('nothing changed')", "skipped", "skipped by its pre script: nothing changed"),
        ("fail('no ticket')", "failure", "failed by its pre script: no ticket"),
        ("skip()", "skipped", "skipped by its pre script: no reason given"),
    ],
)
def test_pre_skips_or_fails_the_job_with_a_reason(store: Store, pre: str, status: str, reason: str) -> None:
    executor = DummyExecutor()
    state = run_flow(store, executor, one_job(pre=pre))
    assert (state.jobs["s.a.j"].status, state.jobs["s.a.j"].reason) == (status, reason)
    assert executor.started == []
    assert store.get_run(state.id).jobs[0].reason == reason


def test_pre_sees_earlier_outputs_by_path_and_prints_to_the_log(store: Store) -> None:
    doc = simple_flow(
        [
            stage(
                "build",
                action("a", job("x", "dummy", Behaviour(outputs={"URL": "http://x"}), outputs=["URL"])),
            ),
            stage(
                "use",
                action(
                    "b",
                    job(
                        "y",
                        "dummy",
                        pre="print('url is', jobs['build.a.x'].outputs.URL, jobs['build.a.x'].status)",
                    ),
                ),
            ),
        ]
    )
    state = run_flow(store, "dummy", doc)
    lines = [(row.job_path, row.line) for row in store.log_lines(state.id)]
    assert ("use.b.y", "[pre] url is\thttp://x\tsuccess") in lines


def test_post_sets_outputs_and_overrides_a_failure(store: Store) -> None:
    post = (
        "if exit_code == 3 and not result then succeed('3 means nothing to do') end\n"
        "outputs.SUMMARY = 'exit ' .. exit_code\noutputs.OLD = nil\n"
    )
    doc = one_job(behaviour=Behaviour(exit_code=3, outputs={"OLD": "1"}), post=post)
    state = run_flow(store, "dummy", doc)
    js = state.jobs["s.a.j"]
    assert (state.status, js.status, js.outputs) == ("success", "success", {"SUMMARY": "exit 3"})
    assert js.reason == "post script overrode the failure (exit code 3): 3 means nothing to do"
    notes = [c["reason"] for c in state_changes(store, state.id) if c["job"] == "s.a.j"]
    assert any(
        n and n.startswith("post script: set outputs SUMMARY, -OLD; post script overrode") for n in notes
    )


def test_post_fails_a_successful_job(store: Store) -> None:
    doc = one_job(
        behaviour=Behaviour(outputs={"COVERAGE": "41"}),
        post="if tonumber(outputs.COVERAGE) < 80 then fail('coverage ' .. outputs.COVERAGE .. '% < 80%') end",
    )
    state = run_flow(store, "dummy", doc)
    assert state.status == "failure"
    assert state.jobs["s.a.j"].reason == "failed by its post script: coverage 41% < 80%"


def test_post_judges_each_attempt_before_a_retry(store: Store) -> None:
    executor = DummyExecutor()
    doc = one_job(behaviour=Behaviour(exit_code=1), retries=2, post="succeed('exit 1 is a warning here')")
    state = run_flow(store, executor, doc)
    assert state.status == "success" and state.jobs["s.a.j"].attempts == 1
    assert len(executor.started) == 1


def test_when_accepts_a_lua_expression(store: Store) -> None:
    doc = simple_flow(
        [
            stage(
                "build", action("a", job("x", "dummy", Behaviour(outputs={"KIND": "docs"}), outputs=["KIND"]))
            ),
            stage(
                "test",
                action("b", job("slow", "dummy", when="jobs['build.a.x'].outputs.KIND ~= 'docs'")),
                action(
                    "c", job("lint", "dummy", when="jobs['build.a.x'].outputs.KIND == 'docs' and not failed")
                ),
            ),
        ]
    )
    state = run_flow(store, "dummy", doc)
    assert state.jobs["test.b.slow"].status == "skipped"
    assert state.jobs["test.b.slow"].reason == "skipped: its when expression is false"
    assert state.jobs["test.c.lint"].status == "success"


def test_a_when_expression_can_run_a_job_after_a_failure(store: Store) -> None:
    doc = simple_flow(
        [
            stage("build", action("a", job("x", "dummy", Behaviour(exit_code=1)))),
            stage("report", action("b", job("y", "dummy", when="failed and failure == 'build.a.x'"))),
        ]
    )
    state = run_flow(store, "dummy", doc)
    assert state.jobs["report.b.y"].status == "success"


ESCAPES = [
    ("os.execute('touch /tmp/coops-lua-escape')", "attempt to index a nil value (global 'os')"),
    ("io.open('/etc/passwd')", "attempt to index a nil value (global 'io')"),
    ("require('os')", "attempt to call a nil value (global 'require')"),
    ("load('return 1')()", "attempt to call a nil value (global 'load')"),
    ("loadstring('return 1')()", "attempt to call a nil value (global 'loadstring')"),
    ("dofile('/etc/passwd')", "attempt to call a nil value (global 'dofile')"),
    ("debug.sethook()", "attempt to index a nil value (global 'debug')"),
    ("string.dump(print)", "attempt to call a nil value (field 'dump')"),
    ("('x'):dump()", "attempt to call a nil value (method 'dump')"),
    ("collectgarbage('stop')", "attempt to call a nil value (global 'collectgarbage')"),
    ("setmetatable({}, {__gc = function() while true do end end})", "global 'setmetatable'"),
    ("coroutine.wrap(function() while true do end end)()", "global 'coroutine'"),
    ("python.eval('1')", "global 'python'"),
    ("while true do end", "pre script ran too long (more than 20,000,000 Lua instructions)"),
    ("while true do pcall(function() while true do end end) end", "pre script ran too long"),
    ("local s = string.rep('x', 2^40)", "resulting string too large"),
    ("local s = string.rep('x', 2^29)", "pre script used more than 64 MiB of memory"),
    (
        "local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(1000) .. i end",
        "pre script used more than 64 MiB of memory",
    ),
    ("while true do pcall(string.rep, 'x', 2^29) end", "pre script used more than 64 MiB of memory"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("pre", "reason"), ESCAPES, ids=[e[0][:30] for e in ESCAPES])
def test_escapes_and_bombs_fail_the_job_cleanly(store: Store, pre: str, reason: str) -> None:
    executor = DummyExecutor()
    state = run_flow(store, executor, one_job(pre=pre))
    js = state.jobs["s.a.j"]
    assert js.status == "failure" and reason in (js.reason or ""), js.reason
    assert executor.started == []


def test_the_sandbox_returns_only_plain_data() -> None:
    with pytest.raises(lua.ScriptError, match="is a Lua function, not plain data"):
        lua.run("return print", "when", {})
    assert lua.evaluate("{1, 'a', x = {y = true}}", "when", {}) == {1: 1, 2: "a", "x": {"y": True}}


def test_a_script_error_says_its_line() -> None:
    with pytest.raises(lua.ScriptError, match=r"^post script failed: line 2: boom$"):
        lua.run("local a = 1\nerror('boom')", "post", {})


def test_a_pattern_that_could_backtrack_for_ages_is_refused(store: Store) -> None:
    pre = "return string.find(string.rep('a', 5000), '.-.-.-.-b')"
    state = run_flow(store, "dummy", one_job(pre=pre))
    reason = state.jobs["s.a.j"].reason or ""
    assert state.jobs["s.a.j"].status == "failure"
    assert "string.find: a pattern with 4 repetitions over 5000 characters may take too long" in reason
    # plain finds and ordinary patterns on ordinary text are fine
    plain = "assert(string.find(string.rep('a', 5000), '.-.-.-.-b', 1, true) == nil)\n"
    trim = "assert(('  v1.2  '):match('^%s*(.-)%s*$') == 'v1.2')\n"
    assert run_flow(store, "dummy", one_job(pre=plain + trim)).status == "success"


def test_a_script_stuck_in_c_is_killed_at_the_deadline(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lua, "MAX_PATTERN_COST", 1e15)  # let the pattern through, to reach the deadline
    monkeypatch.setattr(scripts, "MAX_SECONDS", 0.2)
    state = run_flow(store, "dummy", one_job(pre="string.find(string.rep('a', 20000), 'a*b')"))
    assert state.jobs["s.a.j"].reason == "pre script ran past its time limit of 0.2 s"
