"""``${{ ... }}`` beyond env and secrets: inputs, earlier jobs' outputs, run, flow and
trigger, filled where a job starts (environments, inputs, command, endpoint, service
fields), checked before the run, percent-encoded in a service's url."""

from __future__ import annotations

import textwrap

import pytest

from containerops.component.testserver import CaptureServer
from containerops.engine import RunState
from containerops.model.diagnostics import FlowInvalid
from containerops.model.loader import parse_flow
from containerops.store import Store
from tests.engine.scenarios import run_flow


def flow(jobs: str, *, env: str = "{}") -> str:
    """A flow whose first job ``build.a.make`` prints VERSION=1.2.3, then ``jobs``."""
    return textwrap.dedent(
        f"""\
            uri: test/templates/ci
            environments: {env}
            stages:
              - name: build
                actions:
                  - name: a
                    jobs:
                      - name: make
                        command: [sh, -c, "echo '[COUT] VERSION = 1.2.3'"]
                        outputs: [VERSION]
              - name: ship
                actions:
                  - name: b
                    jobs:
            """
    ) + textwrap.indent(textwrap.dedent(jobs), " " * 10)


def run_text(store: Store, text: str, executor: str = "local", **params: object) -> RunState:
    import json

    loaded = parse_flow(text, "t.yaml")
    doc = json.loads(json.dumps(__import__("yaml").safe_load(loaded.source)))
    return run_flow(store, executor, doc, params=params or None)


def test_references_are_filled_where_a_job_starts(store: Store) -> None:
    job = """\
    - name: tell
      command:
        - sh
        - -c
        - |
          echo "[COUT] CMD = ${{ jobs["build.a.make"].outputs.VERSION }}/${{ inputs.target }}"
          echo "[COUT] ENV = $WHO"
          echo "[COUT] RUN = ${{ run.number }} ${{ flow.uri }} ${{ flow.namespace }} ${{ run.id }}"
          echo "[COUT] TRIGGER = [${{ trigger.ref }}]"
          echo "[COUT] DATA = $CO_DATA"
      inputs: {target: "prod-${{ env.REGION }}", version: '${{ jobs["build.a.make"].outputs.VERSION }}'}
      environments: {WHO: "${{ inputs.target }} at ${{ env.CO_GIT_REF }}"}
      outputs: [CMD, ENV, RUN, TRIGGER, DATA]
    """
    state = run_text(store, flow(job, env="{REGION: eu}"), set={"CO_GIT_REF": "main"})
    assert state.status == "success", state.reason
    seen = state.jobs["ship.b.tell"].outputs
    assert seen["CMD"] == "1.2.3/prod-eu"
    assert seen["ENV"] == "prod-eu at main"
    assert seen["RUN"] == f"{state.number} test/templates/ci test {state.id}"
    assert seen["TRIGGER"] == "[main]"
    assert "version=1.2.3" in seen["DATA"]  # CO_DATA is encoded from the inputs filled in


def test_an_output_that_is_not_there_fails_the_job_saying_why(store: Store) -> None:
    text = flow(
        """\
        - name: tell
          command: [echo, '${{ jobs["build.a.make"].outputs.VERSION }}']
        """
    ).replace("echo '[COUT] VERSION = 1.2.3'", "exit 0")
    state = run_text(store, text)
    tell = state.jobs["ship.b.tell"]
    assert tell.status == "failure"
    assert tell.reason == "needs output VERSION of build.a.make, which never printed it (success)"


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        (
            "command: [echo, '${{ inputs.nope }}']\ninputs: {yes: 1}",
            "'${{ inputs.nope }}': job 'tell' has no input nope (its inputs: yes)",
        ),
        (
            "command: [echo, '${{ run.numbr }}']",
            "'${{ run.numbr }}': run has no field numbr (it has: id, number, uid)",
        ),
        ("command: [echo, '${{ trigger.branch }}']", "trigger has no field branch"),
        ("command: [echo, '${{ flow.name }}']", "flow has no field name (it has: uri, namespace)"),
        (
            "command: [echo, '${{ jobs[\"build.a.mak\"].outputs.VERSION }}']",
            "reference 'build.a.mak[VERSION]': there is no job 'build.a.mak'; did you mean 'build.a.make'?",
        ),
        (
            "command: [echo, '${{ jobs[\"build.a.make\"].outputs.VERSON }}']",
            "job 'build.a.make' has no output 'VERSON' (its outputs: VERSION); did you mean 'VERSION'?",
        ),
        (
            "command: [echo, '${{ jobs[\"ship.b.later\"].outputs.X }}']",
            "job 'ship.b.later' does not run before job 'ship.b.tell' (it comes later in the same action)",
        ),
        ("command: [echo, '${{ env.NOPE }}']", "'${{ env.NOPE }}': no variable NOPE"),
        ("command: [echo, '${{ nope }}']", "'${{ nope }}' is not a known reference"),
        ("endpoint: 'busybox:${{ env.TAG }}'", "'${{ env.TAG }}': no variable TAG"),
    ],
)
def test_references_that_cannot_be_filled_are_refused_at_their_line(job: str, expected: str) -> None:
    text = flow(
        "- name: tell\n" + textwrap.indent(job, "  ") + "\n- {name: later, command: [true], outputs: [X]}\n"
    )
    with pytest.raises(FlowInvalid) as invalid:
        parse_flow(text, "t.yaml")
    found = [d.message for d in invalid.value.errors]
    assert any(expected in message for message in found), found
    assert all(d.line is not None and d.line >= 14 for d in invalid.value.errors)


def test_a_service_url_gets_values_percent_encoded_unless_raw(store: Store) -> None:
    with CaptureServer(answer=lambda got: (200, {})) as served:
        job = """\
        - name: call
          type: service
          service:
            url: "${{ env.BASE | raw }}/deploy/${{ trigger.ref }}?sha=${{ env.CO_GIT_SHA }}"
            headers: {X-Ref: "${{ trigger.ref }}"}
        """
        text = flow(job, env=f"{{BASE: '{served.url}'}}")
        state = run_text(store, text, "dummy", set={"CO_GIT_REF": "../x?admin=1", "CO_GIT_SHA": "a b&c"})
        assert state.status == "success", state.reason
        [got] = served.received
    assert (got.path, got.query) == ("/deploy/..%2Fx%3Fadmin%3D1", {"sha": ["a b&c"]})
    assert got.headers["x-ref"] == "../x?admin=1"  # a header is not a URL


def test_an_endpoint_and_command_are_filled_on_docker(store: Store) -> None:
    job = """\
    - name: tell
      endpoint: "containerops/base:${{ env.TAG }}"
      command: [sh, -c, 'echo "[COUT] GOT = ${{ jobs["build.a.make"].outputs.VERSION }} ${{ env.TAG }}"']
      outputs: [GOT]
    """
    make = "          - name: make\n"
    image = "            endpoint: containerops/base:busybox\n"
    text = flow(job, env="{TAG: busybox}").replace(make, make + image)
    state = run_text(store, text, "docker")
    assert state.status == "success", state.reason
    assert state.jobs["ship.b.tell"].outputs == {"GOT": "1.2.3 busybox"}
