"""``component:`` jobs in flows: the reference checked where it is written, inputs kept
with their types and positions for the resolution that comes before a run."""

from __future__ import annotations

import pytest

from containerops.model.diagnostics import FlowInvalid
from containerops.model.loader import parse_flow
from containerops.model.validate import check_runnable_locally

FLOW = """\
uri: test/model/components
stages:
  - name: build
    actions:
      - name: get
        jobs:
          - name: clone
            component: library/git-clone:1.0
            inputs:
              url: http://127.0.0.1/x.git
              depth: 1
              tags: [a, b]
              verbose: true
            resources: {memory: 64M}
          - name: plain
            endpoint: containerops/base:busybox
            inputs: {a: 1}
"""


def test_a_component_job_keeps_its_reference_and_typed_inputs() -> None:
    flow = parse_flow(FLOW, "flow.yaml").flow
    clone, plain = flow.jobs()
    use = clone.component
    assert use is not None and clone.endpoint is None and clone.inputs == {}
    assert use.ref == "library/git-clone:1.0"
    assert use.inputs == {"url": "http://127.0.0.1/x.git", "depth": 1, "tags": ["a", "b"], "verbose": True}
    assert use.position is not None and (use.position.line, use.position.column) == (8, 24)
    assert use.inputs_position is not None and use.inputs_position.line == 10
    assert {k: p.line for k, p in use.input_positions.items()} == {
        "url": 10,
        "depth": 11,
        "tags": 12,
        "verbose": 13,
    }
    assert use.overrides == frozenset({"memory"})
    assert plain.component is None and plain.inputs == {"a": "1"}
    assert check_runnable_locally(flow, "flow.yaml", "docker") == []


@pytest.mark.parametrize(
    ("ref", "said"),
    [
        ("../x", "namespace '..' is not valid"),
        ("A", "is not a component reference"),
        ("x/y/z", "is not a component reference"),
        ("Library/shell", "namespace 'Library' is not valid"),
        ("library/shell:latest", "version 'latest' is not valid"),
    ],
)
def test_bad_references_are_errors_at_their_line(ref: str, said: str) -> None:
    text = FLOW.replace("library/git-clone:1.0", ref)
    with pytest.raises(FlowInvalid) as invalid:
        parse_flow(text, "flow.yaml")
    (error,) = invalid.value.errors
    assert (error.file, error.line, error.column) == ("flow.yaml", 8, 24)
    assert error.message.startswith("component: ") and said in error.message


def test_a_job_runs_an_image_or_a_component_not_both() -> None:
    text = FLOW.replace(
        "            component: library/git-clone:1.0\n",
        "            component: library/git-clone:1.0\n            endpoint: x/y\n",
    )
    with pytest.raises(FlowInvalid) as invalid:
        parse_flow(text, "flow.yaml")
    (error,) = invalid.value.errors
    assert error.line == 9 and "either an image ('endpoint') or a component ('component')" in error.message


def test_input_names_are_checked_for_components_too() -> None:
    text = FLOW.replace("              depth: 1\n", "              'no good': 1\n")
    with pytest.raises(FlowInvalid) as invalid:
        parse_flow(text, "flow.yaml")
    (error,) = invalid.value.errors
    assert error.line == 11 and "input name 'no good' is not valid" in error.message
