"""``concurrency:`` of a flow: both forms read, every mistake said at its line and column
(did-you-mean for keys and ``env`` names), the schema agreeing; and the group a run gets,
resolved from the flow's environments and the run's values, scoped by its namespace."""

from __future__ import annotations

import pytest
import yaml
from jsonschema import Draft202012Validator

from containerops.engine.concurrency import STORED_GROUP, group_key, shown
from containerops.model.concurrency import Concurrency
from containerops.model.flow_schema import flow_json_schema
from containerops.model.loader import parse_flow
from tests.model.test_validate import errors

FLOW = """\
uri: acme/app/deploy
environments: {TARGET: prod}
concurrency: {CONCURRENCY}
stages:
  - name: s
    actions:
      - name: a
        jobs:
          - {name: j, endpoint: busybox}
"""


def flow_with(concurrency: str) -> str:
    return FLOW.replace("{CONCURRENCY}", concurrency)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ('"deploy-${{ env.TARGET }}"', Concurrency("deploy-${{ env.TARGET }}")),
        (
            '{group: "deploy-${{ env.CO_GIT_REF }}", cancel_in_progress: true}',
            Concurrency("deploy-${{ env.CO_GIT_REF }}", cancel_in_progress=True),
        ),
        ("{group: deploy, cancel_in_progress: false}", Concurrency("deploy")),
        ("{group: deploy}", Concurrency("deploy")),
    ],
)
def test_both_forms_are_read(written: str, read: Concurrency) -> None:
    assert parse_flow(flow_with(written), "flow.yml").flow.concurrency == read


def test_a_flow_without_it_has_none() -> None:
    text = flow_with("x").replace("concurrency: x\n", "")
    assert parse_flow(text, "flow.yml").flow.concurrency is None


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "{group: deploy, cancel_in_progres: true}",
            "flow.yml:3:30: error: unknown key 'cancel_in_progres' in concurrency; "
            "did you mean 'cancel_in_progress'?",
        ),
        (
            "{cancel_in_progress: true}",
            "flow.yml:3:14: error: concurrency needs a 'group': the runs of a group run one at a time",
        ),
        (
            "{group: deploy, cancel_in_progress: maybe}",
            "flow.yml:3:50: error: cancel_in_progress must be true or false, got 'maybe'",
        ),
        ("''", "flow.yml:3:14: error: a concurrency group cannot be empty"),
        ("[deploy]", "flow.yml:3:14: error: a concurrency group must be text, got a list"),
        (
            '"deploy-${{ env.TARGT }}"',
            "flow.yml:3:14: error: '${{ env.TARGT }}': no variable TARGT in the flow's environments, "
            "nor one a run is given; did you mean 'TARGET'?",
        ),
        (
            '"deploy-${{ secrets.TOKEN }}"',
            "flow.yml:3:14: error: a concurrency group can use ${{ env.NAME }}, ${{ trigger.* }} and "
            "${{ flow.* }}, not '${{ secrets.TOKEN }}': it is stored and shown with the run",
        ),
        (
            '"deploy-${{ matrix.x }}"',
            "flow.yml:3:14: error: a concurrency group can use ${{ env.NAME }}, ${{ trigger.* }} and "
            "${{ flow.* }}, not '${{ matrix.x }}': a group is resolved when a run is created",
        ),
        (
            '"deploy-${{ run.number }}"',
            "flow.yml:3:14: error: a concurrency group can use ${{ env.NAME }}, ${{ trigger.* }} and "
            "${{ flow.* }}, not '${{ run.number }}': a group is resolved when a run is created",
        ),
        (
            '"deploy-${{ trigger.branch }}"',
            "flow.yml:3:14: error: '${{ trigger.branch }}': trigger has no field branch (it has: ref, "
            "sha, event, pr, repository, base_ref, head_ref, url)",
        ),
        ("x" * 201, "flow.yml:3:14: error: a concurrency group is at most 200 characters, got 201"),
    ],
)
def test_mistakes_are_said_where_they_are(written: str, message: str) -> None:
    assert errors(flow_with(written)) == [message]


def test_the_schema_takes_what_the_validator_takes_and_refuses_a_wrong_key() -> None:
    schema = Draft202012Validator(flow_json_schema())
    for written in ('"deploy-${{ env.TARGET }}"', "{group: deploy, cancel_in_progress: true}"):
        assert list(schema.iter_errors(yaml.safe_load(flow_with(written)))) == []
    refused = list(schema.iter_errors(yaml.safe_load(flow_with("{group: deploy, cancel: true}"))))
    assert [list(error.absolute_path) for error in refused] == [["concurrency"]]


def test_a_runs_group_is_resolved_from_its_values_and_scoped_by_namespace() -> None:
    flow = parse_flow(flow_with('"deploy-${{ env.TARGET }}-${{ env.CO_GIT_REF }}"'), "flow.yml").flow

    assert group_key(flow, {}) == "acme/deploy-prod-"  # no trigger gave CO_GIT_REF: nothing
    spaces = parse_flow(flow_with('"${{ flow.uri }}@${{ trigger.ref }}"'), "flow.yml").flow
    assert group_key(spaces, {"CO_GIT_REF": "main"}) == "acme/acme/app/deploy@main"
    assert group_key(flow, {"TARGET": "staging", "CO_GIT_REF": "main"}) == "acme/deploy-staging-main"
    assert shown("acme/deploy-staging-main") == "deploy-staging-main"
    long_one, other = group_key(flow, {"CO_GIT_REF": "b" * 300}), group_key(flow, {"CO_GIT_REF": "b" * 301})
    assert long_one is not None and other is not None
    assert len(long_one) == len(other) == STORED_GROUP and long_one != other
    assert group_key(parse_flow(flow_with("x").replace("concurrency: x\n", ""), "f").flow, {}) is None
