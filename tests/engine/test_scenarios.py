"""The engine's semantics, on the dummy executor and on real Docker containers."""

from __future__ import annotations

import asyncio

import pytest

from containerops.engine import Engine
from containerops.executors.dummy import DummyExecutor
from containerops.store import Store
from containerops.store.runs import attempts, state_changes
from tests.engine.scenarios import Behaviour, action, job, run_flow, simple_flow, stage

EXECUTORS = [
    pytest.param("dummy", id="dummy"),
    pytest.param("local", id="local"),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
]


def statuses(state: object) -> dict[str, str]:
    return {path: js.status for path, js in state.jobs.items()}  # type: ignore[attr-defined]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_success_records_everything(store: Store, executor: str, docker_ready: None) -> None:
    doc = simple_flow(
        [
            {"type": "start", "name": "start"},
            stage(
                "build",
                action(
                    "unit", job("a", executor, Behaviour(lines=["hello"], outputs={"X": "1"}), outputs=["X"])
                ),
            ),
            stage("ship", action("up", job("b", executor))),
            {"type": "end", "name": "end"},
        ]
    )
    state = run_flow(store, executor, doc)
    assert state.status == "success", state.reason
    assert statuses(state) == {"build.unit.a": "success", "ship.up.b": "success"}
    assert state.jobs["build.unit.a"].outputs == {"X": "1"}
    row = store.get_run(state.id)
    assert row.status == "success" and row.number == 1
    assert [j.status for j in row.jobs] == ["success", "success"]
    assert row.jobs[0].exit_code == 0 and row.jobs[0].outputs == {"X": "1"}
    history = [(c["job"], c["status"]) for c in state_changes(store, state.id)]
    assert history[0] == (None, "pending") and history[-1] == (None, "success")
    assert ("build.unit.a", "running") in history and ("build.unit.a", "success") in history
    lines = [line.line for line in store.log_lines(state.id)]
    assert "[COUT] X = 1" in lines
    if executor != "dummy":
        assert "hello" in lines
    # a second run of the same flow is number 2 of the same flow version
    again = run_flow(store, executor, doc)
    assert again.number == 2 and store.get_run(again.id).flow_version == 1


@pytest.mark.parametrize("executor", EXECUTORS)
def test_failure_skips_what_follows(store: Store, executor: str, docker_ready: None) -> None:
    doc = simple_flow(
        [
            stage(
                "one",
                action("a", job("fails", executor, Behaviour(exit_code=3)), job("after", executor)),
                action("b", job("later", executor)),
            ),
            stage("two", action("c", job("never", executor))),
        ]
    )
    state = run_flow(store, executor, doc)
    assert state.status == "failure"
    assert statuses(state) == {
        "one.a.fails": "failure",
        "one.a.after": "skipped",
        "one.b.later": "skipped",
        "two.c.never": "skipped",
    }
    failed = state.jobs["one.a.fails"]
    assert failed.exit_code == 3 and failed.reason == "exit code 3"
    assert state.reason == "one.a.fails failed: exit code 3"
    assert state.jobs["two.c.never"].reason == "skipped: one.a.fails failed"
    assert store.get_run(state.id).jobs[0].exit_code == 3


@pytest.mark.parametrize("executor", EXECUTORS)
def test_allow_failure_lets_the_flow_go_on(store: Store, executor: str, docker_ready: None) -> None:
    doc = simple_flow(
        [
            stage(
                "s",
                action(
                    "a",
                    job("flaky", executor, Behaviour(exit_code=1), allow_failure=True),
                    job("next", executor),
                ),
            )
        ]
    )
    state = run_flow(store, executor, doc)
    assert state.status == "success"
    assert statuses(state) == {"s.a.flaky": "failure", "s.a.next": "success"}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_on_failure_and_always(store: Store, executor: str, docker_ready: None) -> None:
    doc = simple_flow(
        [
            stage("s", action("a", job("boom", executor, Behaviour(exit_code=2)))),
            stage(
                "cleanup",
                action(
                    "c",
                    job("report", executor, when="on_failure"),
                    job("tidy", executor, when="always"),
                    job("deploy", executor),
                ),
            ),
        ]
    )
    state = run_flow(store, executor, doc)
    assert state.status == "failure"
    assert statuses(state) == {
        "s.a.boom": "failure",
        "cleanup.c.report": "success",
        "cleanup.c.tidy": "success",
        "cleanup.c.deploy": "skipped",
    }
    # and without a failure, on_failure jobs are skipped
    calm = simple_flow(
        [stage("s", action("a", job("ok", executor), job("report", executor, when="on_failure")))]
    )
    state = run_flow(store, executor, calm)
    assert state.status == "success"
    assert statuses(state) == {"s.a.ok": "success", "s.a.report": "skipped"}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_parallel_actions_overlap(store: Store, executor: str, docker_ready: None) -> None:
    naps = [action(f"p{i}", job("nap", executor, Behaviour(sleep=1.5))) for i in range(3)]
    state = run_flow(store, executor, simple_flow([stage("fan", *naps, parallel=True)]))
    assert state.status == "success"
    spans = [(js.started_at, js.finished_at) for js in state.jobs.values()]
    latest_start = max(s for s, _ in spans if s)
    earliest_end = min(e for _, e in spans if e)
    assert latest_start < earliest_end, f"parallel jobs did not overlap: {spans}"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_failure_in_parallel_sibling_does_not_stop_the_other(
    store: Store, executor: str, docker_ready: None
) -> None:
    doc = simple_flow(
        [
            stage(
                "fan",
                action("bad", job("x", executor, Behaviour(exit_code=1))),
                action("good", job("y", executor, Behaviour(sleep=0.5)), job("z", executor)),
                parallel=True,
            ),
            stage("after", action("a", job("never", executor))),
        ]
    )
    state = run_flow(store, executor, doc)
    assert statuses(state) == {
        "fan.bad.x": "failure",
        "fan.good.y": "success",
        "fan.good.z": "success",
        "after.a.never": "skipped",
    }


@pytest.mark.parametrize("executor", EXECUTORS)
def test_co_result_false_fails_despite_exit_zero(store: Store, executor: str, docker_ready: None) -> None:
    doc = simple_flow(
        [stage("s", action("a", job("judge", executor, Behaviour(outputs={"CO_RESULT": "false"}))))]
    )
    state = run_flow(store, executor, doc)
    judged = state.jobs["s.a.judge"]
    assert judged.status == "failure" and judged.exit_code == 0
    assert judged.reason == "the component reported CO_RESULT = false"
    assert state.status == "failure"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_outputs_flow_through_subscriptions(store: Store, executor: str, docker_ready: None) -> None:
    tricky = {"CO_URL": "two words = ok", "CO_EQ": "a=b=c 'quoted' \"double\""}
    echo = Behaviour(script='echo "[COUT] GOT_URL = $URL"; echo "[COUT] GOT_EQ = $EQ"')
    doc = simple_flow(
        [
            stage(
                "build",
                action("make", job("emit", executor, Behaviour(outputs=tricky), outputs=["CO_URL", "CO_EQ"])),
            ),
            stage(
                "use",
                action(
                    "read",
                    job(
                        "echo",
                        executor,
                        echo,
                        subscriptions=[{"build.make.emit[CO_URL]": "URL"}, {"build.make.emit[CO_EQ]": "EQ"}],
                        inputs={"msg": "two words = ok"},
                    ),
                ),
            ),
        ]
    )
    engines: list[Engine] = []
    state = run_flow(store, executor, doc, on_engine=engines.append)
    assert state.status == "success", state.reason
    assert state.jobs["build.make.emit"].outputs == tricky
    if executor == "dummy":
        executor_used = engines[0].executor
        assert isinstance(executor_used, DummyExecutor)
        env = executor_used.started[-1].env
        assert env["URL"] == tricky["CO_URL"] and env["EQ"] == tricky["CO_EQ"]
        assert env["CO_DATA"] == "msg='two words = ok'" and env["CO_MSG"] == "two words = ok"
        assert env["CO_JOB_PATH"] == "use.read.echo" and env["CO_ATTEMPT"] == "1"
        assert env["CO_FLOW_URI"] == "test/engine/scenario" and env["CO_RUN_ID"] == str(state.id)
    else:
        assert state.jobs["use.read.echo"].outputs == {"GOT_URL": tricky["CO_URL"], "GOT_EQ": tricky["CO_EQ"]}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_missing_declared_output_fails_the_subscriber(
    store: Store, executor: str, docker_ready: None
) -> None:
    doc = simple_flow(
        [
            stage("s", action("a", job("quiet", executor, outputs=["CO_URL"]))),
            stage("t", action("b", job("needs", executor, subscriptions=[{"s.a.quiet[CO_URL]": "URL"}]))),
        ]
    )
    state = run_flow(store, executor, doc)
    assert state.jobs["s.a.quiet"].status == "success"
    needs = state.jobs["t.b.needs"]
    assert needs.status == "failure" and needs.attempts == 0
    assert needs.reason == "needs CO_URL from s.a.quiet, which never printed it (success)"


def test_optional_subscriptions_take_their_default(store: Store) -> None:
    """A failed producer and a skipped one do not fail a subscriber that gave defaults;
    a producer that printed its output still gives it."""
    optional = {"env": "VERSION", "default": "0.0.0"}
    doc = simple_flow(
        [
            stage(
                "s",
                action(
                    "a",
                    job("ok", "dummy", Behaviour(outputs={"CO_V": "1.2"}), outputs=["CO_V"]),
                    job("broken", "dummy", Behaviour(exit_code=3), outputs=["CO_V"]),
                    job("never", "dummy", outputs=["CO_V"]),
                ),
            ),
            stage(
                "t",
                action(
                    "b",
                    job(
                        "report",
                        "dummy",
                        when="always",
                        subscriptions=[
                            {"s.a.ok[CO_V]": {"env": "GOT", "default": "none"}},
                            {"s.a.broken[CO_V]": optional},
                            {"s.a.never[CO_V]": {"env": "SKIPPED", "default": ""}},
                        ],
                    ),
                ),
            ),
        ]
    )
    executor = DummyExecutor()
    state = run_flow(store, executor, doc)
    assert statuses(state) == {
        "s.a.ok": "success",
        "s.a.broken": "failure",
        "s.a.never": "skipped",
        "t.b.report": "success",
    }
    env = executor.started[-1].env
    assert (env["GOT"], env["VERSION"], env["SKIPPED"]) == ("1.2", "0.0.0", "")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_job_timeout(store: Store, executor: str, docker_ready: None) -> None:
    doc = simple_flow([stage("s", action("a", job("slow", executor, Behaviour(sleep=30), timeout="1s")))])
    state = run_flow(store, executor, doc)
    slow = state.jobs["s.a.slow"]
    assert slow.status == "failure" and slow.reason == "timeout after 1 s"
    assert (slow.finished_at - slow.started_at).total_seconds() < 15  # type: ignore[operator]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_retries_with_co_attempt(store: Store, executor: str, docker_ready: None) -> None:
    if executor == "dummy":
        flaky = job("flaky", executor, retries=2, environments={"CO_DUMMY_PASS_ON_ATTEMPT": "3"})
    else:
        script = 'echo "attempt $CO_ATTEMPT"; [ "$CO_ATTEMPT" = 3 ] || exit 4'
        flaky = job("flaky", executor, Behaviour(script=script), retries=2)
    state = run_flow(store, executor, simple_flow([stage("s", action("a", flaky))]))
    js = state.jobs["s.a.flaky"]
    assert js.status == "success" and js.attempts == 3
    tried = attempts(store, state.id)
    assert [(a["attempt"], a["status"]) for a in tried] == [(1, "failure"), (2, "failure"), (3, "success")]
    if executor != "dummy":
        assert tried[0]["exit_code"] == 4
        lines = [(line.attempt, line.line) for line in store.log_lines(state.id)]
        assert lines == [(1, "attempt 1"), (2, "attempt 2"), (3, "attempt 3")]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_retries_exhausted(store: Store, executor: str, docker_ready: None) -> None:
    doc = simple_flow([stage("s", action("a", job("bad", executor, Behaviour(exit_code=5), retries=1)))])
    state = run_flow(store, executor, doc)
    bad = state.jobs["s.a.bad"]
    assert bad.status == "failure" and bad.attempts == 2 and bad.exit_code == 5


@pytest.mark.parametrize("executor", EXECUTORS)
def test_flow_timeout_cancels_running_jobs(store: Store, executor: str, docker_ready: None) -> None:
    doc = simple_flow(
        [stage("s", action("a", job("slow", executor, Behaviour(sleep=30)), job("next", executor)))],
        timeout="1s",
    )
    state = run_flow(store, executor, doc)
    assert state.status == "failure" and state.reason == "flow timeout after 1 s"
    assert statuses(state) == {"s.a.slow": "cancelled", "s.a.next": "skipped"}
    assert store.get_run(state.id).status == "failure"


def test_cancel_records_cancelled_and_destroys(store: Store) -> None:
    doc = simple_flow(
        [stage("s", action("a", job("slow", "dummy", Behaviour(sleep=30)), job("next", "dummy")))]
    )

    def cancel_soon(engine: Engine) -> None:
        async def later() -> None:
            await asyncio.sleep(0.3)
            engine.cancel("cancelled by SIGINT")

        original = engine.run

        async def run_and_cancel() -> object:
            task = asyncio.create_task(later())
            try:
                return await original()
            finally:
                task.cancel()

        engine.run = run_and_cancel  # type: ignore[method-assign]

    engines: list[Engine] = []

    def hook(engine: Engine) -> None:
        engines.append(engine)
        cancel_soon(engine)

    state = run_flow(store, "dummy", doc, on_engine=hook)
    assert state.status == "cancelled" and state.reason == "cancelled by SIGINT"
    assert statuses(state) == {"s.a.slow": "cancelled", "s.a.next": "skipped"}
    executor = engines[0].executor
    assert isinstance(executor, DummyExecutor) and executor.destroyed == 1
    assert attempts(store, state.id)[0]["status"] == "cancelled"


def test_out_of_memory_on_dummy(store: Store) -> None:
    doc = simple_flow(
        [
            stage(
                "s",
                action(
                    "a",
                    job("hog", "dummy", resources={"memory": "32M"}, environments={"CO_DUMMY_OOM": "true"}),
                ),
            )
        ]
    )
    state = run_flow(store, "dummy", doc)
    hog = state.jobs["s.a.hog"]
    assert hog.status == "failure" and hog.exit_code == 137
    assert hog.reason == "out of memory (limit 32M): killed with exit code 137"


def test_out_of_memory_of_a_child_says_the_job_went_on(store: Store) -> None:
    """The kernel killed a child process; the job itself ended by its own exit code."""
    env = {"CO_DUMMY_OOM": "true", "CO_DUMMY_EXIT_CODE": "0"}
    doc = simple_flow(
        [stage("s", action("a", job("hog", "dummy", resources={"memory": "32M"}, environments=env)))]
    )
    hog = run_flow(store, "dummy", doc).jobs["s.a.hog"]
    assert hog.status == "failure" and hog.exit_code == 0
    assert (
        hog.reason
        == "out of memory (limit 32M): a process of the job was killed; the job then exited with code 0"
    )


def test_output_limits(store: Store) -> None:
    big = "x" * (64 * 1024 + 1)
    doc = simple_flow([stage("s", action("a", job("loud", "dummy", Behaviour(outputs={"BIG": big}))))])
    state = run_flow(store, "dummy", doc)
    loud = state.jobs["s.a.loud"]
    assert loud.status == "failure"
    assert loud.reason == "output BIG is 65537 bytes, over the limit of 65536 bytes (64 KiB) a value"


def test_set_overrides_flow_environment(store: Store) -> None:
    doc = simple_flow([stage("s", action("a", job("j", "dummy")))], environments={"GREETING": "hi"})
    executor = DummyExecutor()
    state = run_flow(store, executor, doc, params={"set": {"GREETING": "hello"}})
    assert executor.started[0].env["GREETING"] == "hello"
    assert store.get_run(state.id).params == {"set": {"GREETING": "hello"}}


@pytest.mark.docker
def test_out_of_memory_on_docker(store: Store, docker_ready: None) -> None:
    hog = job(
        "hog",
        "docker",
        Behaviour(script="echo filling; x=aaaaaaaa; while true; do x=$x$x; done"),
        resources={"memory": "32M"},
    )
    state = run_flow(store, "docker", simple_flow([stage("s", action("a", hog))]))
    hogged = state.jobs["s.a.hog"]
    assert hogged.status == "failure" and hogged.exit_code == 137
    assert hogged.reason == "out of memory (limit 32M): killed with exit code 137"
    assert [line.line for line in store.log_lines(state.id)] == ["filling"]


@pytest.mark.docker
def test_out_of_memory_of_a_child_on_docker(store: Store, docker_ready: None) -> None:
    parent = job(
        "parent",
        "docker",
        Behaviour(script="sh -c 'x=aaaaaaaa; while true; do x=$x$x; done'; echo child gone"),
        resources={"memory": "32M"},
    )
    state = run_flow(store, "docker", simple_flow([stage("s", action("a", parent))]))
    went_on = state.jobs["s.a.parent"]
    assert went_on.status == "failure" and went_on.exit_code == 0
    assert went_on.reason == (
        "out of memory (limit 32M): a process of the job was killed; the job then exited with code 0"
    )
    assert "child gone" in [line.line for line in store.log_lines(state.id)]  # the job went on


def test_an_engine_bug_is_recorded_not_hidden(store: Store) -> None:
    """Should the engine itself break, the run must not end up 'success' or 'running'."""

    class Broken(DummyExecutor):
        async def start(self, spec):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    engines: list[Engine] = []
    doc = simple_flow([stage("s", action("a", job("j", "dummy")))])
    with pytest.raises(RuntimeError, match="boom"):
        run_flow(store, Broken(), doc, on_engine=engines.append)
    row = store.get_run(engines[0].state.id)  # type: ignore[union-attr]
    assert row.status == "failure" and row.reason == "internal error in the engine: RuntimeError('boom')"
    assert row.jobs[0].status == "cancelled"


def test_the_engine_never_passes_a_pause_stage_unapproved(store: Store) -> None:
    doc = simple_flow(
        [
            stage("build", action("a", job("x", "dummy"))),
            {"type": "pause", "name": "approve", "timeout": "0.2s"},
            stage("ship", action("b", job("y", "dummy"))),
        ]
    )
    state = run_flow(store, "dummy", doc)
    assert state.status == "failure"
    assert state.reason is not None and state.reason.startswith("stage approve: nobody approved or rejected")
    assert statuses(state) == {"build.a.x": "success", "ship.b.y": "skipped"}


def test_a_long_line_is_stored_cut_and_a_job_stores_at_most_its_log_cap(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No line or job fills the disk: a 200,000-character line is cut with a marker; past
    the job's cap lines are counted, not stored, and its outputs are still read."""
    monkeypatch.setenv("COOPS_MAX_JOB_LOG", "100000")
    script = (
        "printf '%200000s' '' | tr ' ' x; echo; "
        "for i in $(seq 1 5000); do echo line-$i; done; echo '[COUT] LATE = read'"
    )
    job = {"name": "chatty", "command": ["sh", "-c", script]}
    state = run_flow(store, "local", simple_flow([stage("s", action("a", job))]))
    assert state.status == "success", state.reason
    lines = [row.line for row in store.log_lines(state.id)]
    assert lines[0] == "x" * 65536 + " [... 134464 more characters cut]"
    # the cut line took 65,569 characters of the 100,000: then line-1 ... up to the cap
    assert lines[1] == "line-1" and sum(len(line) for line in lines[:-1]) <= 100_000
    assert lines[-1].startswith("[coops] the log passed 100000 characters: ")
    stored = len(lines) - 2
    assert lines[-1].endswith(f": {5001 - stored} more lines not stored")
    assert state.jobs["s.a.chatty"].outputs == {"LATE": "read"}
    [record] = attempts(store, state.id)  # the job's record says how many were not stored
    assert record["log_unstored"] == 5001 - stored


def test_a_flow_sets_a_lower_log_cap_and_the_server_wide_one_still_bounds_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``max_job_log:`` caps each attempt's log below the server-wide COOPS_MAX_JOB_LOG (which
    takes units too); a flow cannot raise it past that."""
    job = {"name": "chatty", "command": ["sh", "-c", "for i in $(seq 1 3000); do echo line-$i; done"]}

    def stored(cap: str) -> tuple[int, int]:
        state = run_flow(store, "local", simple_flow([stage("s", action("a", job))], max_job_log=cap))
        lines = [row.line for row in store.log_lines(state.id, limit=10_000)]
        [record] = attempts(store, state.id)
        return sum(len(line) for line in lines[:-1]), record["log_unstored"]

    monkeypatch.setenv("COOPS_MAX_JOB_LOG", "10k")
    size, unstored = stored("1k")
    assert size <= 1024 < size + len("line-3000") and unstored > 2800
    size, unstored = stored("1G")  # above the server's: the server's holds
    assert size <= 10 * 1024 < size + len("line-3000") and 1000 < unstored < 2800


def test_env_references_are_resolved_in_inputs_and_environments(store: Store) -> None:
    """What a webhook sets (CO_GIT_REF) reaches a job's inputs, so CO_DATA and CO_<KEY>,
    and its environments; a variable a run was not given becomes empty, never '${{'."""
    doc = simple_flow(
        [
            stage(
                "s",
                action(
                    "a",
                    job(
                        "clone",
                        "dummy",
                        environments={"WHERE": "${{ env.TARGET }}/${{ env.CO_GIT_SHA }}"},
                        inputs={"ref": "${{ env.CO_GIT_REF }}", "to": "${{ env.WHERE }}"},
                    ),
                ),
            )
        ],
        environments={"TARGET": "prod", "LABEL": "on ${{ env.CO_GIT_REF }}"},
    )
    executor = DummyExecutor()
    state = run_flow(store, executor, doc, params={"set": {"CO_GIT_REF": "refs/pull/2/head"}})
    assert state.status == "success"
    env = executor.started[0].env
    assert env["CO_REF"] == "refs/pull/2/head" and env["CO_TO"] == "prod/"
    assert env["CO_DATA"] == "ref=refs/pull/2/head to=prod/"
    assert env["WHERE"] == "prod/" and env["LABEL"] == "on refs/pull/2/head"
    assert not any("${{" in value for value in env.values())
