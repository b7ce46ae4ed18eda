"""Inputs against a spec: every problem at once, defaults filled, the contract's variables."""

from __future__ import annotations

import shlex

import pytest

from containerops.component.inputs import InputsInvalid, resolve_inputs
from containerops.component.spec import parse_spec
from containerops.contract.codata import decode_co_data

SPEC = parse_spec(
    """\
namespace: library
name: demo
version: 1.0.0
inputs:
  - {name: url, required: true}
  - {name: ref, default: main}
  - {name: depth, type: integer, default: 0}
  - {name: ratio, type: number}
  - {name: fail-on-findings, type: boolean, default: true}
  - {name: state, type: enum, values: [pending, success], default: pending}
  - {name: headers, type: list}
  - {name: token, secret: true}
"""
)


def test_defaults_are_filled_and_the_contract_variables_set() -> None:
    resolved = resolve_inputs(SPEC, {"url": "https://x/repo.git", "headers": ["A: 1", "B: two words"]})
    assert resolved.values == {
        "url": "https://x/repo.git",
        "ref": "main",
        "depth": "0",
        "fail-on-findings": "true",
        "state": "pending",
        "headers": "A: 1\nB: two words",
    }
    assert resolved.env["CO_URL"] == "https://x/repo.git"
    assert resolved.env["CO_FAIL_ON_FINDINGS"] == "true"
    assert resolved.env["CO_HEADERS"] == "A: 1\nB: two words"
    assert "CO_RATIO" not in resolved.env and "CO_TOKEN" not in resolved.env
    assert decode_co_data(resolved.env["CO_DATA"]) == resolved.values
    assert resolved.secrets == []


def test_text_values_of_a_flow_are_read_by_type() -> None:
    resolved = resolve_inputs(
        SPEC,
        {
            "url": "u",
            "depth": "12",
            "ratio": "0.25",
            "fail-on-findings": "False",
            "headers": "A: 1\n\nB: 2\n",
            "state": "success",
        },
    )
    assert resolved.values["depth"] == "12"
    assert resolved.values["ratio"] == "0.25"
    assert resolved.values["fail-on-findings"] == "false"
    assert resolved.values["headers"] == "A: 1\nB: 2"
    typed = resolve_inputs(SPEC, {"url": "u", "depth": 7, "ratio": 1.5, "fail-on-findings": False})
    assert (typed.values["depth"], typed.values["ratio"], typed.values["fail-on-findings"]) == (
        "7",
        "1.5",
        "false",
    )


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InputsInvalid) as caught:
        resolve_inputs(
            SPEC,
            {
                "urll": "x",
                "depth": "deep",
                "ratio": "nan",
                "fail-on-findings": "perhaps",
                "state": "done",
                "headers": [["nested"]],
            },
        )
    problems = [str(p) for p in caught.value.problems]
    assert problems == [
        "input 'urll': library/demo has no such input; did you mean 'url'?",
        "input 'url': is required (string)",
        "input 'depth': expected an integer, got 'deep'",
        "input 'ratio': expected a finite number, got 'nan'",
        "input 'fail-on-findings': expected true or false, got 'perhaps'",
        "input 'state': 'done' is not allowed; choose one of: pending, success",
        "input 'headers': list items must be single values, got a list",
    ]
    assert str(caught.value).startswith("library/demo:1.0.0: input 'urll'")


def test_unknown_inputs_without_a_close_name_list_the_inputs() -> None:
    with pytest.raises(
        InputsInvalid, match=r"input 'colour': library/demo has no such input \(its inputs: url, "
    ):
        resolve_inputs(SPEC, {"url": "u", "colour": "blue"})
    bare = parse_spec("namespace: a\nname: b\nversion: 1.0.0\n")
    with pytest.raises(InputsInvalid, match=r"it takes no inputs"):
        resolve_inputs(bare, {"x": "1"})


def test_secret_values_are_listed_for_masking_and_never_shown_in_problems() -> None:
    resolved = resolve_inputs(SPEC, {"url": "u", "token": "s3cr3t-value"})
    assert resolved.secrets == ["s3cr3t-value"]
    assert resolved.env["CO_TOKEN"] == "s3cr3t-value"
    spec = parse_spec(
        "namespace: a\nname: b\nversion: 1.0.0\ninputs:\n  - {name: pin, type: integer, secret: true}\n"
    )
    with pytest.raises(InputsInvalid) as caught:
        resolve_inputs(spec, {"pin": "hunter2"})
    assert "hunter2" not in str(caught.value)
    assert "value not shown: secret" in str(caught.value)


def test_values_with_spaces_and_quotes_survive_co_data() -> None:
    text = 'it\'s "quoted" = yes'
    resolved = resolve_inputs(SPEC, {"url": text})
    assert decode_co_data(resolved.env["CO_DATA"])["url"] == text
    assert shlex.split(resolved.env["CO_DATA"])[0] == f"url={text}"


def test_placeholders_are_left_for_later_when_asked() -> None:
    with pytest.raises(InputsInvalid):
        resolve_inputs(SPEC, {"url": "u", "depth": "${DEPTH}"})
    assert (
        resolve_inputs(SPEC, {"url": "u", "depth": "${DEPTH}"}, placeholders=True).values["depth"]
        == "${DEPTH}"
    )
