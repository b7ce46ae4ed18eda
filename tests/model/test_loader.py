"""Reading flow text and files: formats, positions, syntax errors, the indentation repair, speed."""

from __future__ import annotations

import gc
import json
import textwrap
from pathlib import Path

import pytest

from containerops.model.diagnostics import Diagnostic, FlowInvalid
from containerops.model.flow import Resources
from containerops.model.loader import LoadResult, load_flow, parse_flow

MINIMAL = textwrap.dedent(
    """\
    uri: demo/hello/ci
    stages:
      - name: build
        actions:
          - name: unit
            jobs:
              - name: test
                endpoint: busybox
                resources:
                  cpu: 1
                  memory: 256M
    """
)


def problems(text: str, filename: str = "flow.yml") -> list[str]:
    """Every diagnostic of an invalid flow, as printed."""
    with pytest.raises(FlowInvalid) as raised:
        parse_flow(text, filename)
    return [str(d) for d in raised.value.diagnostics]


def test_parse_flow_returns_the_flow_its_source_and_format() -> None:
    result = parse_flow(MINIMAL, "flow.yml")
    assert isinstance(result, LoadResult)
    assert result.format == "yaml"
    assert result.source == MINIMAL
    assert result.warnings == []
    [job] = result.flow.jobs()
    assert job.path == "build.unit.test"
    assert job.resources.memory == 256 * 1024**2
    assert job.position is not None
    assert (job.position.line, job.position.column) == (7, 13)


def test_load_flow_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_flow(path).flow.uri == "demo/hello/ci"
    assert load_flow(str(path)).flow.uri == "demo/hello/ci"


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_flow(path).flow.uri == "demo/hello/ci"


def test_unreadable_file_is_a_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "missing.yml"
    with pytest.raises(FlowInvalid) as raised:
        load_flow(path)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic == Diagnostic(
        "error", "cannot read the flow file: No such file or directory", str(path), None, None, ""
    )
    assert str(diagnostic) == f"{path}: error: cannot read the flow file: No such file or directory"


def test_file_that_is_not_utf8_points_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_bytes(b"uri: demo/hello/ci\ntitle: caf\xe9\n")
    with pytest.raises(FlowInvalid) as raised:
        load_flow(path)
    assert [str(d) for d in raised.value.diagnostics] == [
        f"{path}:2:11: error: the flow file is not UTF-8 text (byte 0xe9)"
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing but a comment\n", "---\n"])
def test_empty_document(text: str) -> None:
    assert problems(text) == [
        "flow.yml:1:1: error: the document is empty: a flow needs at least a uri and stages"
    ]


def test_yaml_syntax_error_has_its_position() -> None:
    text = "uri: demo/hello/ci\nstages:\n  - name: build\n    actions: [a, b\n"
    assert problems(text) == [
        "flow.yml:5:1: error: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 4, column 14)"
    ]


def test_tab_indentation_is_a_syntax_error() -> None:
    text = "uri: demo/hello/ci\nstages:\n\t- name: build\n"
    [message] = problems(text)
    assert message.startswith(
        "flow.yml:3:1: error: invalid YAML: found character '\\t' that cannot start any token"
    )


def test_several_documents_are_refused() -> None:
    [message] = problems(MINIMAL + "---\n" + MINIMAL)
    assert message == (
        "flow.yml:12:1: error: invalid YAML: expected a single document in the stream "
        "(line 1, column 1), but found another document"
    )


def test_undefined_alias_is_named() -> None:
    [message] = problems("uri: *nowhere\n")
    assert message == "flow.yml:1:6: error: invalid YAML: found undefined alias 'nowhere'"


def test_control_character_is_refused_with_its_position() -> None:
    [message] = problems("uri: demo/hello/ci\ntitle: a\x07b\n")
    assert message.startswith("flow.yml:2:9: error: invalid YAML: unacceptable character 0x0007")


def test_top_level_must_be_a_mapping() -> None:
    assert problems("- a\n- b\n") == ["flow.yml:1:1: error: the flow must be a mapping, got a list"]


def test_duplicate_keys_are_errors() -> None:
    text = MINIMAL + "uri: other/hello/ci\n"
    assert problems(text) == ["flow.yml:12:1: error: duplicate key 'uri' in the flow (first at line 1)"]


def test_anchors_and_merge_keys_work_and_the_job_keeps_its_own_values() -> None:
    text = textwrap.dedent(
        """\
        uri: demo/hello/ci
        defaults: &defaults
        stages:
          - name: build
            actions:
              - name: unit
                jobs:
                  - &base
                    name: one
                    endpoint: busybox
                    timeout: 5s
                  - <<: *base
                    name: two
                    timeout: 10s
        """
    ).replace("defaults: &defaults\n", "")
    first, second = parse_flow(text).flow.jobs()
    assert (first.name, first.timeout, first.endpoint) == ("one", 5.0, "busybox")
    assert (second.name, second.timeout, second.endpoint) == ("two", 10.0, "busybox")


# -- JSON ---------------------------------------------------------------------

FLOW_DICT = {
    "uri": "demo/hello/ci",
    "stages": [
        {"name": "build", "actions": [{"name": "unit", "jobs": [{"name": "test", "endpoint": "busybox"}]}]}
    ],
}


def test_json_gives_the_same_flow_as_yaml_with_positions_in_the_json_text() -> None:
    text = json.dumps(FLOW_DICT, indent=2)
    result = parse_flow(text, "flow.json")
    assert result.format == "json"
    yaml_flow = parse_flow(MINIMAL).flow
    assert result.flow.uri == yaml_flow.uri
    [job] = result.flow.jobs()
    assert (job.path, job.endpoint) == ("build.unit.test", "busybox")
    assert job.position is not None
    assert text.split("\n")[job.position.line - 1][job.position.column - 1 :] == "{"
    assert (job.position.line, job.position.column) == (10, 13)


def json_flow(job: dict[str, object], indent: str | int | None = None) -> str:
    """A one-job flow as JSON text."""
    stage = {"name": "build", "actions": [{"name": "unit", "jobs": [{"name": "test", **job}]}]}
    return json.dumps({"uri": "demo/hello/ci", "stages": [stage]}, indent=indent)


def test_json_errors_point_into_the_json_text_even_with_tabs() -> None:
    text = json_flow({"endpoint": "busybox", "retries": "x"}, indent="\t")
    lines = text.split("\n")
    line = next(i for i, text_line in enumerate(lines, 1) if '"retries"' in text_line)
    column = lines[line - 1].index('"x"') + 1
    assert lines[line - 1].startswith("\t" * 7)
    assert problems(text, "flow.json") == [
        f"flow.json:{line}:{column}: error: retries must be an integer from 0 to 100, got 'x'"
    ]


def test_json_scalars_follow_json_rules() -> None:
    text = json_flow({"endpoint": "busybox", "timeout": 1e2, "inputs": {"a": 1.50, "b": True, "c": None}})
    [job] = parse_flow(text, "flow.json").flow.jobs()
    assert job.timeout == 100.0
    assert job.inputs == {"a": "1.5", "b": "true", "c": ""}


def test_json_syntax_error_uses_json_positions() -> None:
    text = '{\n  "uri": "demo/hello/ci",\n  "stages": [1 2]\n}\n'
    assert problems(text, "flow.json") == ["flow.json:3:16: error: invalid JSON: Expecting ',' delimiter"]


def test_yaml_flow_style_is_not_mistaken_for_broken_json() -> None:
    text = (
        "{uri: demo/hello/ci, stages: [{name: build, actions: [{name: unit, jobs: [{endpoint: busybox}]}]}]}"
    )
    result = parse_flow(text, "flow.yml")
    assert result.format == "yaml"
    assert problems(text.replace("busybox}", "busybox"), "flow.yml")[0].startswith("flow.yml:1:")
    assert problems(text.replace("{uri:", '{"uri":'), "flow.json") == [
        "flow.json:1:9: error: invalid JSON: Expecting value"
    ]
    assert [job.path for job in result.flow.jobs()] == ["build.unit.job-1"]


# -- the indentation quirk of the original javadoc flow -------------------------

#: ``memory:`` one column left of its sibling ``cpu:``, as in the original javadoc flow.
QUIRK = MINIMAL.replace("  memory: 256M", " memory: 4G\n" + " " * 12 + "timeout: 0")


def test_key_indented_one_column_less_than_its_sibling_is_repaired_with_a_warning() -> None:
    result = parse_flow(QUIRK, "flow.yml")
    assert [str(w) for w in result.warnings] == [
        "flow.yml:11:14: warning: 'memory:' is indented 1 column less than 'cpu:' on line 10, which YAML "
        "rejects; assumed it belongs with 'cpu:' (read as if it started at column 15, not 14)"
    ]
    [job] = result.flow.jobs()
    assert (job.resources.cpu, job.resources.memory, job.timeout) == (1.0, 4 * 1024**3, None)


def test_the_quirk_on_the_last_key_of_the_document_is_repaired_too() -> None:
    result = parse_flow(MINIMAL.replace("  memory: 256M", " memory: 256M"), "flow.yml")
    assert [(w.line, w.column) for w in result.warnings] == [(11, 14)]
    assert result.flow.jobs()[0].resources == Resources(cpu=1.0, memory=256 * 1024**2)


def test_errors_on_a_repaired_line_point_at_the_original_columns() -> None:
    messages = problems(QUIRK.replace("memory: 4G", "memory: 4Q"))
    assert messages[0].startswith("flow.yml:11:14: warning: 'memory:' is indented 1 column less")
    assert messages[1] == (
        "flow.yml:11:22: error: memory: invalid memory size '4Q': use bytes (268435456) or a number with a "
        "unit, like 512M, 4G, 1Gi or 100k"
    )


def test_a_larger_shortfall_is_not_guessed_at() -> None:
    [message] = problems(QUIRK.replace("   memory", " memory"))
    assert message == (
        "flow.yml:11:12: error: invalid YAML: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block collection at line 7, column 11)"
    )


def test_repairs_are_bounded() -> None:
    jobs = "".join(
        f"          - name: j{i}\n            endpoint: busybox\n            resources:\n"
        f"              cpu: 1\n             memory: 1G\n"
        for i in range(11)
    )
    text = (
        "uri: demo/hello/ci\nstages:\n  - name: build\n    actions:\n      - name: unit\n        jobs:\n"
        + jobs
    )
    messages = problems(text)
    assert len([m for m in messages if "warning: 'memory:' is indented" in m]) == 10
    assert [m for m in messages if "error" in m] == [
        f"flow.yml:{6 + 10 * 5 + 5}:14: error: invalid YAML: expected <block end>, but found "
        f"'<block mapping start>' (while parsing a block mapping at line {6 + 10 * 5 + 1}, column 13)"
    ]


# -- diagnostics --------------------------------------------------------------


def test_flow_invalid_keeps_warnings_and_names_the_first_error() -> None:
    text = MINIMAL.replace(
        "endpoint: busybox", "endpoint: busybox\n            kubectl: x.yaml\n            retries: -1"
    )
    with pytest.raises(FlowInvalid) as raised:
        parse_flow(text, "flow.yml")
    error = raised.value
    assert [d.severity for d in error.diagnostics] == ["warning", "error"]
    assert str(error) == "flow.yml:10:22: error: retries must be an integer from 0 to 100, got '-1'"
    assert error.warnings[0].message == "kubectl is not supported; the job runs its endpoint image"
    assert error.errors[0].where == "stages[0].actions[0].jobs[0].retries"


def test_diagnostic_str_without_a_column() -> None:
    assert str(Diagnostic("warning", "careful", "f.yml", 3, None, "x")) == "f.yml:3: warning: careful"


def test_garbage_collector_is_left_as_it_was() -> None:
    assert gc.isenabled()
    parse_flow(MINIMAL)
    assert gc.isenabled()
    with pytest.raises(FlowInvalid):
        parse_flow("- a\n")
    assert gc.isenabled()


# -- speed --------------------------------------------------------------------


def generated_flow(stages: int, actions: int, jobs: int) -> str:
    lines = ["uri: bench/generated/flow", "stages:"]
    for s in range(stages):
        lines += [f"  - name: stage-{s}", "    sequencing: parallel", "    actions:"]
        for a in range(actions):
            lines += [f"      - name: action-{a}", "        jobs:"]
            for j in range(jobs):
                lines += [
                    f"          - name: job-{j}",
                    "            endpoint: containerops/base:busybox",
                    "            command: [sh, -c, 'echo hi']",
                    "            environments: [{CO_DATA: 'a=1 b=2'}]",
                    "            resources: {cpu: 1, memory: 256M}",
                    "            timeout: 30s",
                    "            outputs: [CO_URL]",
                ]
                if s:
                    source = f"stage-{s - 1}.action-{a}.job-{j}[CO_URL]"
                    lines += ["            subscriptions:", f"              {source}: CO_URL"]
    return "\n".join(lines) + "\n"


def test_a_10000_job_flow_loads_whole() -> None:
    """Its load time is measured in bench/engine_overhead.py, not asserted here."""
    result = parse_flow(generated_flow(100, 10, 10), "big.yml")
    assert len(result.flow.jobs()) == 10_000
    assert result.flow.jobs()[-1].subscriptions[0].source == "stage-98.action-9.job-9"


BOMB_FLOW = """\
uri: demo/bomb/ci
stages:
  - name: s
    actions:
      - name: a
        jobs:
          - name: call
            type: service
            service:
              url: http://127.0.0.1:1/x
              body:
                a: &a [x, x, x, x, x, x, x, x, x, x]
                b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
                c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
                d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
                e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
                f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
                g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


def test_an_alias_bomb_anywhere_is_refused_where_it_expands() -> None:
    """10^7 leaves in a service body (the 721-byte flow that blocked the server for 20 s)."""
    with pytest.raises(FlowInvalid) as invalid:
        parse_flow(BOMB_FLOW, "bomb.yaml")
    [error] = [d for d in invalid.value.diagnostics if d.severity == "error"]
    assert (error.line, error.column) == (16, 20)
    assert "aliases (*name) expand this to more than 100000 nodes" in error.message


def test_a_few_aliases_still_work() -> None:
    text = BOMB_FLOW.split("                c:")[0]
    flow = parse_flow(text, "ok.yaml").flow
    assert flow.jobs()[0].service is not None


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("uri: a/b/c\nstages: " + "[" * 10_000 + "]" * 10_000, 2, 73),
        ('{"uri": "a/b/c", "stages": ' + "[" * 10_000 + "]" * 10_000 + "}", 1, 91),
        ("uri: a/b/c\nstages:\n" + "".join(" " * (2 * i) + "- \n" for i in range(2_000)), 66, 127),
        ("uri: a/b/c\nstages: " + "[" * 70 + "]" * 70, 2, 72),
    ],
)
def test_deep_nesting_is_refused_early_with_its_position(text: str, line: int, column: int) -> None:
    with pytest.raises(FlowInvalid) as invalid:
        parse_flow(text, "deep.yaml")
    [error] = invalid.value.diagnostics
    assert (error.message, error.line, error.column) == ("nested more than 64 levels deep", line, column)


def test_a_timezone_too_long_for_a_file_name_is_an_unknown_timezone() -> None:
    text = (
        "uri: a/b/c\ntriggers:\n  - {type: cron, schedule: '* * * * *', timezone: "
        + "x" * 300
        + "}\nstages: []\n"
    )
    with pytest.raises(FlowInvalid) as invalid:
        parse_flow(text, "tz.yaml")
    assert any(
        d.message.startswith("unknown timezone 'xxx") and d.line == 3 for d in invalid.value.diagnostics
    ), invalid.value.diagnostics


def _many_jobs(count: int) -> str:
    jobs = "".join(f"          - {{name: j{i}, endpoint: e}}\n" for i in range(count))
    return "uri: a/b/c\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n" + jobs


def test_a_flow_may_have_at_most_10000_jobs_unless_the_setting_says_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert len(parse_flow(_many_jobs(10_000), "ok.yaml").flow.jobs()) == 10_000
    with pytest.raises(FlowInvalid) as invalid:
        parse_flow(_many_jobs(10_001), "big.yaml")
    [error] = [d for d in invalid.value.diagnostics if d.severity == "error"]
    assert (error.line, error.column) == (10_007, 13)
    assert error.message == "the flow has more than 10000 jobs, the limit (COOPS_MAX_JOBS raises it)"
    monkeypatch.setenv("COOPS_MAX_JOBS", "10001")
    assert len(parse_flow(_many_jobs(10_001), "big.yaml").flow.jobs()) == 10_001
