"""Pause stages: approve, reject, timeout, decisions refused, restore after a stop, reruns."""

from __future__ import annotations

import asyncio
import time

import pytest

from containerops.engine import Engine
from containerops.engine.decisions import decide
from containerops.executors.dummy import DummyExecutor
from containerops.store import Store
from containerops.store.pauses import DecisionError, pauses
from containerops.store.runs import state_changes
from tests.engine.pausing import engine_for, run_with
from tests.engine.scenarios import BUSYBOX, Behaviour, action, job, simple_flow, stage


def gated(timeout: str | None = None, duration: str | None = None) -> dict[str, object]:
    pause: dict[str, object] = {"type": "pause", "name": "approve"}
    if timeout:
        pause["timeout"] = timeout
    if duration:
        pause["duration"] = duration
    return simple_flow(
        [
            stage("build", action("a", job("x", "dummy", Behaviour(outputs={"V": "7"}), outputs=["V"]))),
            pause,
            stage(
                "ship",
                action("b", {"name": "y", "endpoint": BUSYBOX, "subscriptions": [{"build.a.x[V]": "V"}]}),
            ),
        ]
    )


def statuses(store: Store, run_id: int) -> dict[str, str]:
    return {j.path: j.status for j in store.get_run(run_id).jobs}


def decided(approved: bool, by: str, comment: str | None = None):  # type: ignore[no-untyped-def]
    async def act(engine: Engine) -> None:
        assert engine.state is not None
        assert engine.store.get_run(engine.state.id, with_jobs=False).status == "paused"
        # from a worker thread, as an API route does
        await asyncio.to_thread(decide, engine.store, engine.state.id, approved, by, comment)

    return act


def test_an_approved_pause_lets_the_run_go_on(store: Store) -> None:
    executor = DummyExecutor()
    engine = engine_for(store, executor, gated())
    state = run_with(engine, decided(True, "alice", "looks right"))
    assert state.status == "success"
    assert statuses(store, state.id) == {"build.a.x": "success", "ship.b.y": "success"}
    assert executor.started[-1].env["V"] == "7"
    [pause] = pauses(store, state.id)
    assert (pause.stage, pause.decision, pause.decided_by, pause.comment) == (
        "approve",
        "approved",
        "alice",
        "looks right",
    )
    assert pause.decided_at is not None and pause.decided_at >= pause.started_at
    history = [(c["status"], c["reason"]) for c in state_changes(store, state.id) if c["job"] is None]
    assert ("paused", "waiting at stage approve for an approval") in history
    assert ("running", "stage approve approved by alice: looks right") in history


def test_a_rejected_pause_fails_the_run_and_skips_what_follows(store: Store) -> None:
    engine = engine_for(store, DummyExecutor(), gated())
    state = run_with(engine, decided(False, "bob", "wrong version"))
    assert state.status == "failure"
    assert state.reason == "stage approve rejected by bob: wrong version"
    assert statuses(store, state.id) == {"build.a.x": "success", "ship.b.y": "skipped"}
    assert store.get_run(state.id).reason == "stage approve rejected by bob: wrong version"


def test_a_pause_nobody_decides_times_out(store: Store) -> None:
    engine = engine_for(store, DummyExecutor(), gated("0.3s"))
    state = asyncio.run(engine.run())
    assert state.status == "failure"
    assert state.reason == "stage approve: nobody approved or rejected it within 0.3 s (pause timeout)"
    assert statuses(store, state.id)["ship.b.y"] == "skipped"
    [pause] = pauses(store, state.id)
    assert pause.decision == "timeout" and pause.decided_by is None
    with pytest.raises(DecisionError, match="it is failure, not paused"):
        decide(store, state.id, True, "late")


def test_a_pause_with_a_duration_goes_on_by_itself(store: Store) -> None:
    engine = engine_for(store, DummyExecutor(), gated(duration="0.3s"))
    state = asyncio.run(engine.run())
    assert state.status == "success", state.reason
    assert statuses(store, state.id)["ship.b.y"] == "success"
    [pause] = pauses(store, state.id)
    assert pause.decision == "elapsed" and pause.decided_by is None
    history = [(c["status"], c["reason"]) for c in state_changes(store, state.id) if c["job"] is None]
    assert ("paused", "waiting at stage approve for 0.3 s (or an approval)") in history
    assert ("running", "stage approve: went on by itself after 0.3 s (pause duration)") in history


def test_a_pause_with_a_duration_may_still_be_rejected_before(store: Store) -> None:
    engine = engine_for(store, DummyExecutor(), gated(duration="1h"))
    state = run_with(engine, decided(False, "alice", "not today"))
    assert state.status == "failure" and state.reason == "stage approve rejected by alice: not today"


def test_only_the_first_decision_counts(store: Store) -> None:
    engine = engine_for(store, DummyExecutor(), gated())

    async def twice(engine: Engine) -> None:
        assert engine.state is not None
        run_id = engine.state.id
        decide(store, run_id, False, "first")
        with pytest.raises(DecisionError, match="its pause was already decided"):
            decide(store, run_id, True, "second")

    state = run_with(engine, twice)
    assert state.reason == "stage approve rejected by first"
    assert [p.decided_by for p in pauses(store, state.id)] == ["first"]


@pytest.mark.parametrize(
    ("run_id", "by", "comment", "message"),
    [
        (999, "x", None, "no run with id 999"),
        (1, " ", None, "who decides must be named"),
        (1, "x", "y" * 5000, "the comment is longer than 4000 characters"),
    ],
)
def test_bad_decisions_are_refused_plainly(
    store: Store, run_id: int, by: str, comment: str | None, message: str
) -> None:
    with pytest.raises(DecisionError, match=message):
        decide(store, run_id, True, by, comment)


def test_a_run_that_is_not_paused_cannot_be_decided(store: Store) -> None:
    engine = engine_for(store, DummyExecutor(), simple_flow([stage("s", action("a", job("x", "dummy")))]))
    state = asyncio.run(engine.run())
    with pytest.raises(DecisionError, match=f"cannot approve run {state.id}: it is success, not paused"):
        decide(store, state.id, True, "alice")


def suspended_run(store: Store, doc: dict[str, object]) -> int:
    """Run until the pause, then stop the engine as a stopping server does; the run id."""
    engine = engine_for(store, DummyExecutor(), doc)

    async def stop(engine: Engine) -> None:
        engine.suspend()

    state = run_with(engine, stop)
    assert state.status == "paused"
    return state.id


def test_a_suspended_run_stays_paused_and_a_restored_engine_goes_on(store: Store) -> None:
    run_id = suspended_run(store, gated())
    row = store.get_run(run_id)
    assert row.status == "paused" and row.finished_at is None
    assert statuses(store, run_id) == {"build.a.x": "success", "ship.b.y": "pending"}

    executor = DummyExecutor()  # a new process: nothing of the old engine is left
    engine = Engine.restore(store, executor, run_id)
    engine.decision_poll = 0.05
    assert engine.state is not None and engine.state.jobs["build.a.x"].outputs == {"V": "7"}
    state = run_with(engine, decided(True, "carol"))
    assert state.status == "success"
    assert [spec.path for spec in executor.started] == ["ship.b.y"]  # build.a.x is not run again
    assert executor.started[0].env["V"] == "7"
    assert statuses(store, run_id) == {"build.a.x": "success", "ship.b.y": "success"}
    assert store.get_run(run_id).started_at == row.started_at


def test_a_restored_pause_keeps_its_original_deadline(store: Store) -> None:
    run_id = suspended_run(store, gated("1s"))
    [before] = pauses(store, run_id)
    assert before.deadline is not None
    time.sleep(1.1)  # the deadline passes while no engine runs the run
    engine = Engine.restore(store, DummyExecutor(), run_id)
    state = asyncio.run(engine.run())
    assert state.status == "failure"
    assert state.reason == "stage approve: nobody approved or rejected it within 1 s (pause timeout)"
    [after] = pauses(store, run_id)
    assert after.deadline == before.deadline


def test_a_decision_taken_while_no_engine_ran_is_honoured_on_restore(store: Store) -> None:
    run_id = suspended_run(store, gated())
    decide(store, run_id, False, "dave", "too late today")
    state = asyncio.run(Engine.restore(store, DummyExecutor(), run_id).run())
    assert state.reason == "stage approve rejected by dave: too late today"


def test_finished_runs_cannot_be_restored(store: Store) -> None:
    engine = engine_for(store, DummyExecutor(), simple_flow([stage("s", action("a", job("x", "dummy")))]))
    state = asyncio.run(engine.run())
    with pytest.raises(Exception, match="has ended"):
        Engine.restore(store, DummyExecutor(), state.id)


def test_a_rerun_keeps_successful_jobs_and_runs_the_rest(store: Store) -> None:
    doc = simple_flow(
        [
            stage("build", action("a", job("x", "dummy", Behaviour(outputs={"V": "7"}), outputs=["V"]))),
            stage(
                "test",
                action("b", {"name": "y", "endpoint": BUSYBOX, "subscriptions": [{"build.a.x[V]": "V"}]}),
                action("c", job("z", "dummy")),
            ),
        ]
    )
    # y's exit code comes from the flow environment (x and z set their own)
    first = engine_for(store, DummyExecutor(), doc, params={"set": {"CO_DUMMY_EXIT_CODE": "1"}})
    failed = asyncio.run(first.run())
    assert statuses(store, failed.id) == {
        "build.a.x": "success",
        "test.b.y": "failure",
        "test.c.z": "skipped",
    }

    executor = DummyExecutor()
    again = engine_for(
        store, executor, doc, params={"set": {"CO_DUMMY_EXIT_CODE": "0"}}, reuse_from=failed.id
    )
    state = asyncio.run(again.run())
    assert state.status == "success"
    assert [spec.path for spec in executor.started] == ["test.b.y", "test.c.z"]
    assert executor.started[0].env["V"] == "7"
    kept = store.get_run(state.id).jobs[0]
    assert (kept.path, kept.status, kept.outputs) == ("build.a.x", "success", {"V": "7"})
    assert kept.reason == f"kept from run {failed.id}, where it succeeded"


def test_a_paused_run_can_be_cancelled(store: Store) -> None:
    engine = engine_for(store, DummyExecutor(), gated())

    async def cancel(engine: Engine) -> None:
        engine.cancel("cancelled by erin")

    state = run_with(engine, cancel)
    assert (state.status, state.reason) == ("cancelled", "cancelled by erin")
    assert statuses(store, state.id) == {"build.a.x": "success", "ship.b.y": "skipped"}
    with pytest.raises(DecisionError, match="it is cancelled, not paused"):
        decide(store, state.id, True, "late")
