"""The engine reports a run's progress only through its ``Reporter`` port."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from containerops.contract.codata import encode_co_data
from containerops.engine import Engine
from containerops.engine.reporter import Reporter
from containerops.executors.dummy import DummyExecutor
from containerops.model.loader import parse_flow
from containerops.store import Store
from containerops.store.runs import attempts, state_changes
from tests.engine.scenarios import BUSYBOX, Behaviour, action, flow_text, job, simple_flow, stage


class MemoryReporter:
    """Keeps every report in lists; no SQL."""

    def __init__(self, mask: Callable[[str], str]) -> None:
        self.mask: Callable[[str], str] | None = mask
        self.runs: list[tuple[str, str | None]] = []
        self.changes: list[tuple[int | None, int | None, str, str | None]] = []
        self.lines: list[tuple[int, int, int, str]] = []
        self.jobs: dict[int, dict[str, Any]] = {}
        self.attempts: dict[tuple[int, int], dict[str, Any]] = {}
        self.flushes = 0

    def run(self, status: str, at: datetime, reason: str | None = None, **fields: Any) -> None:
        self.runs.append((status, reason))

    def run_owner(self, owner: str, at: datetime) -> None:
        pass

    def heartbeat(self, at: datetime) -> None:
        pass

    def job(self, job_id: int, **fields: Any) -> None:
        self.jobs.setdefault(job_id, {}).update(fields)

    def attempt(self, job_id: int, attempt: int, **fields: Any) -> None:
        self.attempts.setdefault((job_id, attempt), {}).update(fields)

    def change(
        self, job_id: int | None, attempt: int | None, status: str, at: datetime, reason: str | None
    ) -> None:
        self.changes.append((job_id, attempt, status, reason))

    def log(self, job_id: int, attempt: int, seq: int, at: datetime, stream: str, line: str) -> None:
        self.lines.append((job_id, attempt, seq, line))

    def log_batch(
        self,
        job_id: int,
        attempt: int,
        first_seq: int,
        times: Sequence[datetime],
        streams: Sequence[str],
        lines: Sequence[str],
    ) -> None:
        for seq, (at, stream, line) in enumerate(zip(times, streams, lines, strict=True), first_seq):
            self.log(job_id, attempt, seq, at, stream, line)

    @property
    def pending_logs(self) -> int:
        return 0

    def flush(self, *, wait: bool = True) -> None:
        self.flushes += 1


def test_a_run_reports_through_the_port_and_writes_no_progress_to_the_store(store: Store) -> None:
    reporters: list[MemoryReporter] = []

    def reporter_for(run_id: int, mask: Callable[[str], str]) -> Reporter:
        reporters.append(MemoryReporter(mask))
        return reporters[-1]

    doc = simple_flow(
        [
            stage("build", action("unit", job("a", "dummy", Behaviour(outputs={"X": "1"}), outputs=["X"]))),
            stage("ship", action("up", job("b", "dummy", Behaviour(exit_code=3)))),
        ]
    )
    loaded = parse_flow(flow_text(doc), "flow.json")
    engine = Engine(store, DummyExecutor(), reporter_for=reporter_for)
    prepared = engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)
    state = asyncio.run(engine.run())

    [reported] = reporters
    ids = {path: js.id for path, js in prepared.state.jobs.items()}
    assert state.status == "failure"
    assert reported.runs[0] == ("running", None) and reported.runs[-1] == (
        "failure",
        "ship.up.b failed: exit code 3",
    )
    assert reported.jobs[ids["build.unit.a"]]["status"] == "success"
    assert reported.jobs[ids["ship.up.b"]]["status"] == "failure"
    assert (ids["build.unit.a"], 1, 1, "[COUT] X = 1") in reported.lines
    assert (ids["ship.up.b"], 1, "failure", "exit code 3") in reported.changes
    assert reported.attempts[(ids["ship.up.b"], 1)]["exit_code"] == 3
    assert reported.flushes >= 2
    # the store holds the run and its jobs as prepared, and nothing of their progress
    row = store.get_run(state.id)
    assert row.status == "pending" and {j.status for j in row.jobs} == {"pending"}
    assert store.log_lines(state.id) == [] and attempts(store, state.id) == []
    assert [change["status"] for change in state_changes(store, state.id)] == ["pending"]


def test_the_whole_history_of_a_run_goes_through_the_port_in_order(store: Store) -> None:
    """Retries, a post script's print, masking, a failure and a skip: every state change and
    every line (numbered per attempt, masked) is reported, in the order it happened."""
    secret = "hunter2-in-memory"
    reporters: list[MemoryReporter] = []

    def reporter_for(run_id: int, mask: Callable[[str], str]) -> Reporter:
        reporters.append(MemoryReporter(mask))
        return reporters[-1]

    emits = {"CO_DUMMY_LINES": "2", "CO_DUMMY_OUTPUTS": encode_co_data({"CO_URL": f"http://x/{secret}"})}
    doc = simple_flow(
        [
            stage(
                "build",
                action(
                    "make",
                    {
                        "name": "emit",
                        "endpoint": BUSYBOX,
                        "environments": emits,
                        "outputs": ["CO_URL"],
                        "post": 'print("post saw " .. outputs.CO_URL)',
                    },
                ),
            ),
            stage(
                "test",
                action(
                    "check",
                    {
                        "name": "flaky",
                        "endpoint": BUSYBOX,
                        "retries": 1,
                        "environments": {"CO_DUMMY_PASS_ON_ATTEMPT": "2"},
                        "subscriptions": [{"build.make.emit[CO_URL]": "URL"}],
                    },
                    {"name": "broken", "endpoint": BUSYBOX, "environments": {"CO_DUMMY_EXIT_CODE": "3"}},
                    {"name": "after", "endpoint": BUSYBOX},
                ),
            ),
        ]
    )
    loaded = parse_flow(flow_text(doc), "flow.json")
    executor = DummyExecutor()
    engine = Engine(store, executor, reporter_for=reporter_for)
    prepared = engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format, secrets=[secret])
    final = asyncio.run(engine.run())

    [reported] = reporters
    ids = {path: js.id for path, js in prepared.state.jobs.items()}
    paths = ("build.make.emit", "test.check.flaky", "test.check.broken", "test.check.after")
    emit, flaky, broken, after = (ids[path] for path in paths)
    assert final.status == "failure"
    assert reported.runs == [("running", None), ("failure", "test.check.broken failed: exit code 3")]
    assert {job_id: fields["status"] for job_id, fields in reported.jobs.items()} == {
        emit: "success",
        flaky: "success",
        broken: "failure",
        after: "skipped",
    }
    assert reported.jobs[flaky]["attempts"] == 2
    assert [reported.attempts[(flaky, n)]["status"] for n in (1, 2)] == ["failure", "success"]
    assert reported.attempts[(emit, 1)]["outputs"] == {"CO_URL": "http://x/***"}
    assert [(job_id, attempt, status) for job_id, attempt, status, _ in reported.changes] == [
        (emit, 1, "running"),
        (emit, 1, "success"),
        (flaky, 1, "running"),
        (flaky, 1, "failure"),
        (flaky, 2, "running"),
        (flaky, 2, "success"),
        (broken, 1, "running"),
        (broken, 1, "failure"),
        (after, None, "skipped"),
    ]
    assert reported.lines == [
        (emit, 1, 1, "line 1"),
        (emit, 1, 2, "line 2"),
        (emit, 1, 3, "[COUT] CO_URL = http://x/***"),
        (emit, 1, 4, "[post] post saw http://x/***"),
    ]
    flaky_spec = next(spec for spec in executor.started if spec.path == "test.check.flaky")
    assert flaky_spec.env["URL"] == "http://x/***"  # outputs are read from the masked line
