"""Resolving ``component:`` jobs before a run: digest, inputs, defaults, limits, secrets;
every problem at its file:line, and nothing recorded when there is one."""

from __future__ import annotations

import asyncio

import pytest

from containerops.component.spec import parse_spec
from containerops.engine import Engine
from containerops.engine.decisions import decide
from containerops.executors.dummy import DummyExecutor
from containerops.launch import pin_recorded_components, resolve_flow_components
from containerops.model.diagnostics import FlowInvalid
from containerops.model.loader import parse_flow
from containerops.repository.catalog import Catalog
from containerops.repository.usage import resolve_components
from containerops.store import Store
from containerops.store.components import PushRecord

SPEC = """\
namespace: acme
name: notify
version: {version}
title: Notify
inputs:
  - {{name: message, type: string, required: true}}
  - {{name: retries, type: integer, default: 2}}
  - {{name: level, type: enum, values: [info, warn], default: info}}
  - {{name: token, type: string, secret: true, required: true}}
resources: {{cpu: 0.5, memory: 32M}}
timeout: 45s
"""

FLOW = """\
uri: test/usage/notify
stages:
  - name: tell
    actions:
      - name: team
        jobs:
          - name: send
            component: acme/notify
            inputs:
              message: hello
              token: s3cret-token-value
            environments:
              CO_DUMMY_OUTPUTS: "ECHO=s3cret-token-value"
          - name: again
            component: acme/notify:1.0
            inputs: {message: hi, token: another-secret, retries: 5}
            timeout: 5s
            resources: {memory: 16M}
"""


def push(catalog: Catalog, version: str, extra: str = "") -> str:
    """Record version ``version`` of acme/notify; ``extra`` is appended to its spec."""
    spec = parse_spec(SPEC.format(version=version) + extra)
    digest = f"sha256:{version.replace('.', '') * 20}"[:71]
    catalog.record(
        PushRecord(
            namespace="acme",
            name="notify",
            version=version,
            digest=digest,
            image_id=f"sha256:image-{version}",
            spec=spec.model_dump(mode="json", exclude_none=True),
            readme="",
            title=spec.title,
        )
    )
    return digest


@pytest.fixture
def digests(store: Store) -> dict[str, str]:
    catalog = Catalog(store)
    return {version: push(catalog, version) for version in ("1.0.0", "1.0.3", "1.2.0")}


def test_jobs_get_the_digest_the_inputs_the_defaults_and_the_limits(
    store: Store, digests: dict[str, str]
) -> None:
    flow = parse_flow(FLOW, "flow.yaml").flow
    resolution = resolve_components(store, flow, filename="flow.yaml", address="127.0.0.1:5999")
    send, again = flow.jobs()
    assert send.endpoint == f"127.0.0.1:5999/acme/notify@{digests['1.2.0']}"
    assert again.endpoint == f"127.0.0.1:5999/acme/notify@{digests['1.0.3']}"
    assert send.inputs == {"message": "hello", "retries": "2", "level": "info", "token": "s3cret-token-value"}
    assert again.inputs["retries"] == "5"
    # the spec's limits, unless the job sets its own
    assert (send.resources.cpu, send.resources.memory, send.timeout) == (0.5, 32 * 2**20, 45)
    assert (again.resources.cpu, again.resources.memory, again.timeout) == (0.5, 16 * 2**20, 5)
    assert resolution.components == {
        "tell.team.send": "acme/notify:1.2.0",
        "tell.team.again": "acme/notify:1.0.3",
    }
    assert sorted(resolution.secrets) == ["another-secret", "s3cret-token-value"]
    assert resolution.images == [send.endpoint, again.endpoint]


def test_the_run_records_the_digest_and_masks_the_secrets(store: Store, digests: dict[str, str]) -> None:
    loaded = parse_flow(FLOW, "flow.yaml")
    executor = DummyExecutor()
    engine = Engine(store, executor)
    resolution = resolve_components(store, loaded.flow, filename="flow.yaml")
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format, secrets=resolution.secrets)
    state = asyncio.run(engine.run())
    assert state.status == "success"
    row = store.get_run(state.id)
    assert (row.jobs[0].image or "").endswith(f"/acme/notify@{digests['1.2.0']}")
    env = executor.started[0].env
    assert (
        env["CO_MESSAGE"] == "hello" and env["CO_RETRIES"] == "2" and env["CO_TOKEN"] == "s3cret-token-value"
    )
    assert env["CO_DATA"] == "message=hello retries=2 level=info token=s3cret-token-value"
    logged = [line.line for line in store.log_lines(state.id)]
    assert logged == ["[COUT] ECHO = ***"]
    assert row.jobs[0].outputs == {"ECHO": "***"}


def test_every_problem_is_reported_at_its_line_and_nothing_is_recorded(
    store: Store, digests: dict[str, str]
) -> None:
    text = FLOW.replace("              message: hello\n", "              mesage: hello\n").replace(
        "retries: 5}", "retries: many}"
    )
    text += """\
      - name: more
        jobs:
          - {name: lost, component: acme/notifyy}
          - {name: old, component: "acme/notify:0.9.0"}
"""
    flow = parse_flow(text, "flow.yaml").flow
    with pytest.raises(FlowInvalid) as invalid:
        resolve_components(store, flow, filename="flow.yaml")
    found = [str(d) for d in invalid.value.errors]
    assert found == [
        "flow.yaml:10:15: error: job 'tell.team.send' (acme/notify:1.2.0): input 'mesage': "
        "acme/notify has no such input; did you mean 'message'?",
        "flow.yaml:10:15: error: job 'tell.team.send' (acme/notify:1.2.0): input 'message': "
        "is required (string)",
        "flow.yaml:16:58: error: job 'tell.team.again' (acme/notify:1.0.3): input 'retries': "
        + found[2].split("input 'retries': ")[1],
        "flow.yaml:21:37: error: job 'tell.more.lost': no component acme/notifyy in the repository; "
        "did you mean acme/notify?",
        "flow.yaml:22:36: error: job 'tell.more.old': acme/notify has no version 0.9.0 "
        "(it has: 1.2.0, 1.0.3, 1.0.0)",
    ]
    assert "integer" in found[2]
    assert store.list_runs() == []


def test_subscriptions_to_a_component_are_checked_against_its_spec(
    store: Store, digests: dict[str, str]
) -> None:
    push(Catalog(store), "2.0.0", "outputs:\n  - {name: CO_SENT}\n")
    text = (
        FLOW
        + """\
      - name: check
        jobs:
          - name: read
            endpoint: containerops/base:busybox
            subscriptions:
              - tell.team.send[CO_SENT]: SENT
              - tell.team.again[CO_SENT]: OLD
"""
    )
    flow = parse_flow(text, "flow.yaml").flow  # the loader cannot know a component's outputs
    with pytest.raises(FlowInvalid) as invalid:
        resolve_components(store, flow, filename="flow.yaml")
    (error,) = invalid.value.errors
    assert error.line == 21 and error.message == (
        "job 'tell.check.read' subscribes to tell.team.again[CO_SENT], but acme/notify:1.0.3 "
        "has no output 'CO_SENT' (its outputs: none)"
    )
    assert flow.jobs()[0].outputs == ["CO_SENT"]


def test_a_subscription_to_an_output_family_is_accepted(store: Store, digests: dict[str, str]) -> None:
    """``CO_JSON_*`` (http-request) declares every output of that prefix; others stay refused."""
    push(Catalog(store), "3.0.0", "outputs:\n  - {name: CO_JSON_*}\n")
    text = (
        FLOW.replace("component: acme/notify\n", "component: acme/notify:3.0.0\n")
        + """\
      - name: check
        jobs:
          - name: read
            endpoint: containerops/base:busybox
            subscriptions:
              - tell.team.send[CO_JSON_ID]: ID
              - tell.team.send[CO_OTHER]: OTHER
"""
    )
    flow = parse_flow(text, "flow.yaml").flow
    with pytest.raises(FlowInvalid) as invalid:
        resolve_components(store, flow, filename="flow.yaml")
    messages = [error.message for error in invalid.value.errors]
    assert messages == [
        "job 'tell.check.read' subscribes to tell.team.send[CO_OTHER], but acme/notify:3.0.0 "
        "has no output 'CO_OTHER' (its outputs: CO_JSON_*)"
    ]


def test_a_paused_run_restored_runs_the_versions_it_resolved_at_its_start(
    store: Store, digests: dict[str, str]
) -> None:
    """After a restart a paused run's component jobs keep the versions (and masked secrets)
    of its start, even when a newer version was pushed meanwhile; the engine gets them
    pinned through the launch layer, and refuses to guess without it."""
    gated = FLOW.replace("stages:\n", "stages:\n  - {type: pause, name: approve}\n", 1)
    loaded = parse_flow(gated, "flow.yaml")
    resolution = resolve_flow_components(store, loaded.flow, filename="flow.yaml")
    assert resolution is not None
    engine = Engine(store, DummyExecutor())
    engine.decision_poll = 0.05
    state = engine.prepare(
        loaded.flow,
        source=loaded.source,
        fmt=loaded.format,
        params={"components": resolution.components},
        secrets=resolution.secrets,
    ).state

    async def suspended() -> None:
        task = asyncio.create_task(engine.run())
        while engine.state is None or engine.state.status != "paused":
            await asyncio.sleep(0.01)
        engine.suspend()
        await task

    asyncio.run(suspended())
    push(Catalog(store), "1.3.0")  # newer than what the run resolved
    Catalog(store).yank("acme", "notify", "1.2.0", "it leaks", "1.3.0")  # the run keeps it all the same
    with pytest.raises(ValueError, match="restore it with pin="):
        Engine.restore(store, DummyExecutor(), state.id)

    executor = DummyExecutor()
    restored = Engine.restore(store, executor, state.id, pin=pin_recorded_components(store))
    decide(store, state.id, True, "carol")
    final = asyncio.run(restored.run())

    assert final.status == "success", final.reason
    images = {spec.path: spec.image or "" for spec in executor.started}
    assert images["tell.team.send"].endswith(f"/acme/notify@{digests['1.2.0']}")
    assert images["tell.team.again"].endswith(f"/acme/notify@{digests['1.0.3']}")
    lines = [row.line for row in store.log_lines(state.id)]
    assert not any("s3cret-token-value" in line for line in lines)


MATRIX_FLOW = """\
uri: test/usage/matrix
stages:
  - name: tell
    actions:
      - name: team
        jobs:
          - name: send
            component: acme/notify
            matrix: {{n: {values}, level: [info, warn]}}
            inputs:
              message: "try ${{{{ matrix.n }}}}"
              retries: "${{{{ matrix.n }}}}"
              level: "${{{{ matrix.level }}}}"
              token: t0ken-value
"""


def test_a_matrix_job_gets_each_instances_inputs_typed(store: Store, digests: dict[str, str]) -> None:
    flow = parse_flow(MATRIX_FLOW.format(values="[1, 2]"), "flow.yaml").flow
    resolve_components(store, flow, filename="flow.yaml", address="127.0.0.1:5999")
    send = flow.jobs()[0]
    assert send.inputs["retries"] == "${{ matrix.n }}"  # filled per instance, when it is made
    engine = Engine(store, DummyExecutor())
    engine.prepare(flow, source="x", fmt="yaml")
    state = asyncio.run(engine.run())
    assert state.status == "success"
    made = [state.jobs[path] for path in state.instances["tell.team.send"]]
    assert [js.job.inputs["retries"] for js in made] == ["1", "1", "2", "2"]
    assert made[3].job.inputs["message"] == "try 2" and made[3].job.inputs["level"] == "warn"
    assert made[0].job.endpoint == send.endpoint


def test_an_instance_whose_inputs_do_not_fit_the_spec_is_refused_before_the_run(
    store: Store, digests: dict[str, str]
) -> None:
    flow = parse_flow(MATRIX_FLOW.format(values="[1, many]"), "flow.yaml").flow
    with pytest.raises(FlowInvalid) as invalid:
        resolve_components(store, flow, filename="flow.yaml")
    found = [str(d) for d in invalid.value.errors]
    assert len(found) == 1
    assert "job 'tell.team.send[n=many,level=info]' (acme/notify:1.2.0): input 'retries'" in found[0]
    assert "integer" in found[0]
