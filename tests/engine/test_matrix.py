"""Matrix jobs at run time: instances as ordinary jobs, their group, max_parallel, fail_fast,
``from:`` lists, subscriptions with aggregates, restore and rerun."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap

import pytest

from containerops.engine import Engine, JobState, RunState
from containerops.engine.decisions import decide
from containerops.executors import get_executor
from containerops.executors.dummy import DummyExecutor
from containerops.model.diagnostics import FlowInvalid
from containerops.model.loader import parse_flow
from containerops.store import Store, runs
from tests.engine.scenarios import BUSYBOX

LIST = f"""\
- name: list
  endpoint: {BUSYBOX}
  command: ["sh", "-c", "echo '[COUT] CO_LIST = [\\"a\\",\\"b\\",\\"c\\"]'"]
  environments: {{CO_DUMMY_OUTPUTS: "CO_LIST='[\\"a\\",\\"b\\",\\"c\\"]'"}}
  outputs: [CO_LIST]
"""

SHARDS = f"""\
- name: shard
  endpoint: {BUSYBOX}
  matrix:
    shard: {{count: 3}}
    engine: [tikv, unistore]
    include: [{{shard: 0, engine: mock}}]
    exclude: [{{engine: unistore, shard: 2}}]
  command: ["sh", "-c", "echo \\"[COUT] CO_N = $CO_MATRIX_SHARD\\"; echo \\"[COUT] CO_E = $WHICH\\""]
  environments: {{CO_DUMMY_OUTPUTS: "CO_N=${{{{ matrix.shard }}}}", WHICH: "${{{{ matrix.engine }}}}"}}
  outputs: [CO_N, CO_E]
"""

REPORT = f"""\
- name: report
  endpoint: {BUSYBOX}
  command:
    - sh
    - -c
    - |
      echo "[COUT] ALL = $ALL"
      echo "[COUT] TOTAL = $TOTAL"
      echo "[COUT] HOW_MANY = $HOW_MANY"
      echo "[COUT] MOST = $MOST"
      echo "[COUT] ALL_TRUE = $ALL_TRUE"
      echo "[COUT] ANY_TRUE = $ANY_TRUE"
  subscriptions:
    - "test.shards.shard[CO_N]": ALL
    - "test.shards.shard[CO_N|sum]": TOTAL
    - "test.shards.shard[CO_N|count]": HOW_MANY
    - "test.shards.shard[CO_N|max]": MOST
    - "test.shards.shard[CO_N|all]": ALL_TRUE
    - "test.shards.shard[CO_N|any]": ANY_TRUE
  outputs: [ALL, TOTAL, HOW_MANY, MOST, ALL_TRUE, ANY_TRUE]
"""


def flow(*jobs: str, strategy: str = "") -> str:
    """A flow: ``plan.split.list`` prints CO_LIST (a JSON list), then ``jobs`` (YAML job items)
    make the ``test.shards`` action."""
    head = (
        "uri: test/engine/matrix\nstages:\n  - name: plan\n    actions:\n      - name: split\n        jobs:\n"
    )
    body = "  - name: test\n    actions:\n      - name: shards\n        jobs:\n"
    return head + textwrap.indent(LIST, " " * 10) + body + "".join(textwrap.indent(j, " " * 10) for j in jobs)


def run(
    store: Store, text: str, executor: str = "dummy", reuse: int | None = None
) -> tuple[RunState, list[int]]:
    """Run ``text``; the state, and how many instances were running at each change."""
    loaded = parse_flow(text, "matrix.yaml")
    at_once: list[int] = []

    def on_change(state: RunState, js: JobState | None) -> None:
        at_once.append(sum(1 for j in state.jobs.values() if j.status == "running" and "[" in j.path))

    chosen = DummyExecutor() if executor == "dummy" else get_executor(executor, network_mode="host")
    engine = Engine(store, chosen, on_change=on_change)
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format, reuse_from=reuse)
    return asyncio.run(engine.run()), at_once


def test_each_instance_is_an_ordinary_job_and_the_group_sums_them_up(store: Store) -> None:
    state, _ = run(store, flow(SHARDS), "local")
    assert state.status == "success", state.reason
    paths = state.instances["test.shards.shard"]
    assert paths == [
        "test.shards.shard[shard=0,engine=tikv]",
        "test.shards.shard[shard=0,engine=unistore]",
        "test.shards.shard[shard=1,engine=tikv]",
        "test.shards.shard[shard=1,engine=unistore]",
        "test.shards.shard[shard=2,engine=tikv]",
        "test.shards.shard[shard=0,engine=mock]",
    ]
    # CO_MATRIX_* and ${{ matrix.KEY }} reached each process
    assert [state.jobs[p].outputs for p in paths[:2]] == [
        {"CO_N": "0", "CO_E": "tikv"},
        {"CO_N": "0", "CO_E": "unistore"},
    ]
    env = state.jobs[paths[5]].job.environments
    assert (env["CO_MATRIX_INDEX"], env["CO_MATRIX_COUNT"], env["CO_MATRIX_ENGINE"]) == ("5", "6", "mock")
    group = state.jobs["test.shards.shard"]
    assert group.status == "success" and group.reason == "6 instances: 6 success"
    assert json.loads(group.outputs["CO_N"]) == ["0", "0", "1", "1", "2", "0"]
    # every instance has its own row, right after its group's, and its own history
    row = store.get_run(state.id)
    stored = [job.path for job in row.jobs]
    assert stored.index("test.shards.shard") + 1 == stored.index(paths[0])
    assert row.groups() == {"test.shards.shard": {"success": 6}}
    changes = [c["status"] for c in runs.state_changes(store, state.id) if c["job"] == paths[3]]
    assert changes == ["running", "success"]


def test_a_subscription_gets_every_instance_value_in_order_or_an_aggregate(store: Store) -> None:
    state, _ = run(store, flow(SHARDS, REPORT), "local")
    assert state.status == "success", state.reason
    seen = state.jobs["test.shards.report"].outputs
    assert json.loads(seen["ALL"]) == ["0", "0", "1", "1", "2", "0"]
    assert (seen["TOTAL"], seen["HOW_MANY"], seen["MOST"]) == ("4", "6", "2")
    assert (seen["ALL_TRUE"], seen["ANY_TRUE"]) == ("false", "true")


def test_max_parallel_bounds_the_instances_running_at_once(store: Store) -> None:
    wide = f"""\
- name: wide
  endpoint: {BUSYBOX}
  matrix: {{n: {{count: 12}}}}
  strategy: {{max_parallel: 3}}
  environments: {{CO_DUMMY_SLEEP: "0.05"}}
"""
    state, at_once = run(store, flow(wide))
    assert state.status == "success"
    assert max(at_once) == 3
    unbounded, at_once = run(store, flow(wide.replace("{max_parallel: 3}", "{}")))
    assert unbounded.status == "success" and max(at_once) == 12


FAILING = """\
- name: shard
  endpoint: {image}
  matrix: {{n: {{count: 8}}}}
  strategy: {{max_parallel: 2, fail_fast: {fail_fast}}}
  environments: {{CO_DUMMY_SLEEP: "${{{{ matrix.n }}}}", CO_DUMMY_EXIT_CODE: "0"}}
- name: after
  endpoint: {image}
  when: always
"""


def test_fail_fast_cancels_the_running_instances_and_skips_the_rest(store: Store) -> None:
    doc = FAILING.format(image=BUSYBOX, fail_fast="true")
    # instance 0 fails at once; instance 1 sleeps 1 s: cancelled; the others never start
    doc = doc.replace('CO_DUMMY_EXIT_CODE: "0"', 'CO_DUMMY_EXIT_CODE: "${{ matrix.n }}"')
    doc = doc.replace("{count: 8}", "[1, 30, 2, 3, 4, 5, 6, 7]").replace("n: [", "n: [")
    state, _ = run(store, flow(doc))
    group = state.jobs["test.shards.shard"]
    members = [state.jobs[p] for p in state.instances["test.shards.shard"]]
    assert [m.status for m in members] == ["failure", "cancelled"] + ["skipped"] * 6
    first = members[0].path
    assert members[1].reason == f"cancelled: fail_fast after {first} failed"
    assert members[2].reason == f"skipped: fail_fast after {first} failed"
    assert group.status == "failure"
    assert group.reason is not None and group.reason.startswith("1 of 8 instances failed")
    assert state.status == "failure" and state.jobs["test.shards.after"].status == "success"


def test_without_fail_fast_every_instance_runs_and_the_group_fails(store: Store) -> None:
    doc = FAILING.format(image=BUSYBOX, fail_fast="false")
    doc = doc.replace("{count: 8}", "[0, 1], r: [a, b]").replace('CO_DUMMY_SLEEP: "${{ matrix.n }}", ', "")
    doc = doc.replace('CO_DUMMY_EXIT_CODE: "0"', 'CO_DUMMY_EXIT_CODE: "${{ matrix.n }}"')
    state, _ = run(store, flow(doc))
    members = [state.jobs[p] for p in state.instances["test.shards.shard"]]
    assert [m.status for m in members] == ["success", "success", "failure", "failure"]
    assert state.jobs["test.shards.shard"].reason == (
        "2 of 4 instances failed (2 failure, 2 success); first: test.shards.shard[n=1,r=a]: exit code 1"
    )
    assert state.status == "failure" and state.reason is not None
    assert state.reason.startswith("test.shards.shard failed: 2 of 4 instances failed")


def test_a_from_matrix_makes_its_instances_from_an_earlier_jobs_list(store: Store) -> None:
    dynamic = f"""\
- name: each
  endpoint: {BUSYBOX}
  matrix: {{from: "plan.split.list[CO_LIST]"}}
  command: ["sh", "-c", "echo \\"[COUT] GOT = ${{{{ matrix.item }}}}-$CO_MATRIX_ITEM\\""]
  outputs: [GOT]
"""
    state, _ = run(store, flow(dynamic), "local")
    assert state.status == "success", state.reason
    assert state.instances["test.shards.each"] == [f"test.shards.each[item={x}]" for x in "abc"]
    assert json.loads(state.jobs["test.shards.each"].outputs["GOT"]) == ["a-a", "b-b", "c-c"]
    stored = {job.path: job.status for job in store.get_run(state.id).jobs}
    assert stored["test.shards.each[item=c]"] == "success"


@pytest.mark.parametrize(
    ("printed", "why"),
    [
        ("not json", "matrix from plan.split.list[CO_LIST]: not a JSON list"),
        ('{\\"a\\": 1}', "a JSON list was expected, got dict"),
        ("[[1]]", "item 0 holds list, not a single value"),
        ("[1,2,3]", "3 instances, more than 2 (raise strategy.max_instances to allow it)"),
        ('[{\\"other\\": 1}]', "has no key 'item' for ${{ matrix.item }}"),
    ],
)
def test_a_from_list_that_cannot_be_used_fails_the_group_saying_why(
    store: Store, printed: str, why: str
) -> None:
    text = flow(
        f"""\
- name: each
  endpoint: {BUSYBOX}
  matrix: {{from: "plan.split.list[CO_LIST]"}}
  strategy: {{max_instances: 2}}
  environments: {{X: "${{{{ matrix.item }}}}"}}
"""
    ).replace("""CO_LIST='[\\"a\\",\\"b\\",\\"c\\"]'""", f"CO_LIST='{printed}'")
    state, _ = run(store, text)
    group = state.jobs["test.shards.each"]
    assert group.status == "failure" and why in (group.reason or "")
    assert state.status == "failure"


def test_a_rerun_keeps_the_instances_that_succeeded(store: Store) -> None:
    doc = FAILING.format(image=BUSYBOX, fail_fast="false").replace("{count: 8}", "[0, 1]")
    doc = doc.replace('CO_DUMMY_SLEEP: "${{ matrix.n }}", ', "")
    failing = flow(doc.replace('CO_DUMMY_EXIT_CODE: "0"', 'CO_DUMMY_EXIT_CODE: "${{ matrix.n }}"'))
    first, _ = run(store, failing)
    assert first.status == "failure"
    second, _ = run(store, flow(doc), reuse=first.id)
    members = [second.jobs[p] for p in second.instances["test.shards.shard"]]
    assert [m.reason for m in members] == [f"kept from run {first.id}, where it succeeded", None]
    assert second.status == "success" and second.jobs["test.shards.shard"].status == "success"


def test_a_matrix_job_runs_on_docker_with_its_values(store: Store) -> None:
    state, _ = run(store, flow(SHARDS), "docker")
    assert state.status == "success", state.reason
    assert json.loads(state.jobs["test.shards.shard"].outputs["CO_E"]) == [
        "tikv",
        "unistore",
        "tikv",
        "unistore",
        "tikv",
        "mock",
    ]


def test_a_restored_run_goes_on_with_the_same_instances(store: Store) -> None:
    """Matrices before a pause keep their finished instances; those after it (a static one
    and a from: one) run in the restored engine, with the same paths and rows."""
    from tests.engine.pausing import run_with

    text = flow(SHARDS).replace(
        "  - name: test\n",
        "  - {type: pause, name: gate}\n  - name: test\n",
    )
    fan = f'- {{name: fan, endpoint: "{BUSYBOX}", matrix: {{from: "plan.split.list[CO_LIST]"}}}}\n'
    text = text.replace("  - {type: pause", textwrap.indent(fan, " " * 10) + "  - {type: pause")
    later = f"""\
- name: each
  endpoint: {BUSYBOX}
  matrix: {{from: "plan.split.list[CO_LIST]"}}
  environments: {{X: "${{{{ matrix.item }}}}"}}
"""
    text = text + textwrap.indent(later, " " * 10)
    loaded = parse_flow(text, "m.yaml")
    engine = Engine(store, DummyExecutor())
    engine.decision_poll = 0.05
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format)

    async def stop(engine: Engine) -> None:
        engine.suspend()

    paused = run_with(engine, stop)
    assert paused.status == "paused"
    before = {job.path: job.id for job in store.get_run(paused.id).jobs}
    assert "test.shards.shard[shard=0,engine=tikv]" in before  # made with the run
    assert not any(path.startswith("test.shards.each[") for path in before)  # made when reached

    executor = DummyExecutor()
    restored = Engine.restore(store, executor, paused.id)
    restored.decision_poll = 0.05
    assert restored.state is not None
    for group in ("test.shards.shard", "plan.split.fan"):
        assert restored.state.instances[group] == paused.instances[group]
    assert restored.state.jobs["plan.split.fan[item=b]"].status == "success"

    async def approve(engine: Engine) -> None:
        assert engine.state is not None
        await asyncio.to_thread(decide, store, engine.state.id, True, "carol", None)

    final = run_with(restored, approve)
    assert final.status == "success", final.reason
    started = [spec.path for spec in executor.started]
    assert "plan.split.list" not in started and len(started) == 6 + 3
    after = {job.path: job.id for job in store.get_run(paused.id).jobs}
    assert {path: after[path] for path in before} == before  # the same rows, none made twice
    assert [p for p in after if p.startswith("test.shards.each[")] == [
        f"test.shards.each[item={x}]" for x in "abc"
    ]


def test_matrix_values_may_name_the_runs_environment(store: Store) -> None:
    """${{ env.X }} (with --set), flow.* and trigger.* in matrix values are filled before
    the instances are made; a secret or a job's output is refused at its line."""
    text = flow(
        f"""\
- name: deploy
  endpoint: {BUSYBOX}
  matrix: {{region: ["${{{{ env.FIRST }}}}", "${{{{ env.SECOND }}}}"], ref: ["${{{{ trigger.ref }}}}-x"]}}
"""
    ).replace("stages:\n", "environments: {FIRST: eu, SECOND: us}\nstages:\n", 1)
    loaded = parse_flow(text, "m.yaml")
    engine = Engine(store, DummyExecutor())
    engine.prepare(
        loaded.flow,
        source=loaded.source,
        fmt=loaded.format,
        params={"set": {"SECOND": "asia", "CO_GIT_REF": "main"}},
    )
    state = asyncio.run(engine.run())
    assert state.status == "success"
    assert state.instances["test.shards.deploy"] == [
        "test.shards.deploy[region=eu,ref=main-x]",
        "test.shards.deploy[region=asia,ref=main-x]",
    ]
    for bad, said in (
        ("${{ secrets.TOKEN }}", "a matrix value may name only env, flow and trigger values"),
        (
            "${{ jobs['plan.split.list'].outputs.CO_LIST }}",
            "a matrix value may name only env, flow and trigger",
        ),
        ("${{ env.NOPE }}", "no variable NOPE"),
    ):
        with pytest.raises(FlowInvalid, match=re.escape(said)):
            parse_flow(text.replace("${{ env.SECOND }}", bad), "m.yaml")
