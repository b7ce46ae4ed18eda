"""Flow files: Lua scripts and when expressions, and service jobs, as the validator reads them."""

from __future__ import annotations

import pytest

from containerops.model.diagnostics import FlowInvalid
from containerops.model.loader import parse_flow
from containerops.model.service import Service

HEAD = "uri: t/m/f\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"


def errors(job: str) -> list[str]:
    with pytest.raises(FlowInvalid) as invalid:
        parse_flow(HEAD + job, "flow.yml")
    return [str(d) for d in invalid.value.diagnostics if d.severity == "error"]


def test_scripts_and_a_lua_when_are_kept() -> None:
    job = (
        "          - name: j\n            command: [true]\n"
        "            pre: |\n              inputs.x = '1'\n"
        "            post: \"outputs.Y = 'z'\"\n"
        "            when: jobs['s.a.j'] == nil or not failed\n"
    )
    [parsed] = parse_flow(HEAD + job, "flow.yml").flow.jobs()
    assert (parsed.pre, parsed.post) == ("inputs.x = '1'\n", "outputs.Y = 'z'")
    assert (parsed.when, parsed.condition) == ("always", "jobs['s.a.j'] == nil or not failed")


def test_lua_syntax_errors_point_at_their_line_in_the_file() -> None:
    job = (
        "          - name: j\n            command: [true]\n"
        "            pre: |\n              local a = 1\n              b = = 2\n"
        "            post: 'if x then'\n"
        "            when: inputs.x ==\n"
    )
    assert errors(job) == [
        "flow.yml:11:18: error: Lua syntax error in 'pre' (line 2 of the script): unexpected symbol near '='",
        "flow.yml:12:19: error: Lua syntax error in 'post' (line 1 of the script): 'end' expected near <eof>",
        "flow.yml:13:19: error: Lua syntax error in 'when' (line 1 of the script): "
        "unexpected symbol near <eof>",
    ]


def test_a_misspelt_when_keyword_is_not_taken_for_lua() -> None:
    assert errors("          - {name: j, command: [true], when: on_sucess}\n") == [
        "flow.yml:7:46: error: when must be 'on_success', 'on_failure' or 'always', got 'on_sucess'; "
        "did you mean 'on_success'?"
    ]


def test_a_service_is_read_with_defaults() -> None:
    job = (
        "          - name: call\n            type: service\n            inputs: {a: 1}\n"
        "            environments: {SHA: abc}\n            service:\n"
        "              url: http://127.0.0.1:1/x/${{ inputs.a }}\n"
        "              body: {sha: '${{ env.SHA }}'}\n"
        "              outputs: {ID: '$.items[0].id'}\n"
        "              callback: true\n              timeout: 5m\n"
    )
    [parsed] = parse_flow(HEAD + job, "flow.yml").flow.jobs()
    assert parsed.service == Service(
        url="http://127.0.0.1:1/x/${{ inputs.a }}",
        method="POST",  # a body makes it a POST unless said otherwise
        body={"sha": "${{ env.SHA }}"},
        outputs={"ID": ("items", 0, "id")},
        callback=True,
        timeout=300.0,
    )


def test_service_mistakes_are_each_reported() -> None:
    job = (
        "          - name: call\n            type: service\n            service:\n"
        "              url: ftp://x/${{ input.a }}\n"
        "              method: FETCH\n"
        "              expect: [200, 999]\n"
        "              outputs: {ID: 'a..b'}\n"
        "              retry: 3\n"
    )
    assert errors(job) == [
        "flow.yml:10:20: error: '${{ input.a }}' is not a known reference: write ${{ env.NAME }}, "
        "${{ secrets.NAME }}, ${{ inputs.NAME }}, ${{ matrix.KEY }}, "
        '${{ jobs["stage.action.job"].outputs.KEY }}, ${{ run.number }}, ${{ flow.uri }} '
        "or ${{ trigger.ref }}",
        "flow.yml:10:20: error: 'url' must be an http:// or https:// address, got 'ftp://x/${{ input.a }}'",
        "flow.yml:11:23: error: method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, got 'FETCH'",
        "flow.yml:12:29: error: an expected status must be an integer from 100 to 599, got '999'",
        "flow.yml:13:29: error: 'a..b' is not a JSON path (write $.a.b[0] or a.b.0)",
        "flow.yml:14:15: error: unknown key 'retry' in service (known keys: url, method, headers, body, "
        "expect, outputs, callback, timeout)",
    ]


def test_a_service_needs_a_url() -> None:
    job = "          - {name: call, type: service, service: {method: GET}}\n"
    assert errors(job) == ["flow.yml:7:50: error: a service needs a 'url'"]
