"""component.yaml: valid specs load; each kind of mistake is reported with file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerops.component.spec import (
    SpecInvalid,
    image_name,
    load_spec,
    parse_spec,
    validate_name,
    validate_version,
)

GOOD = """\
namespace: acme
name: deploy-web
version: 1.2.3-rc.1
title: Deploy the web site
description: Copies the site.
keywords: [deploy, web]
maintainers: [Ada <ada@example.invalid>]
inputs:
  - {name: target, type: enum, values: [staging, production], default: staging}
  - {name: retries, type: integer, default: 3}
  - {name: ratio, type: number, default: 0.5}
  - {name: dry-run, type: boolean, default: false}
  - {name: hosts, type: list, default: [a, b]}
  - {name: token, type: string, required: true, secret: true}
outputs:
  - {name: CO_URL, description: where it went}
  - {name: CO_JSON_*}
resources: {cpu: 500m, memory: 256M}
timeout: 5m
examples:
  - name: deploys
    inputs: {token: abc, target: production}
    outputs: {CO_URL: "https://x", CO_JSON_ID: {matches: "[0-9]+"}, CO_URL_2: {contains: x}}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        parse_spec(text, "component.yaml")
    return [str(d) for d in caught.value.errors]


def test_a_complete_spec_loads() -> None:
    text = GOOD.replace(", CO_URL_2: {contains: x}", "")
    spec = parse_spec(text)
    assert spec.ref == "acme/deploy-web:1.2.3-rc.1"
    assert image_name(spec) == "coops/acme/deploy-web:1.2.3-rc.1"
    assert [i.name for i in spec.inputs] == ["target", "retries", "ratio", "dry-run", "hosts", "token"]
    assert spec.input("dry-run") is not None and spec.input("dry-run").env == "CO_DRY_RUN"  # type: ignore[union-attr]
    assert spec.secrets == ["token"]
    assert spec.resources.cpu == 0.5 and spec.resources.memory == 256 * 2**20
    assert spec.timeout == 300
    assert spec.examples[0].outputs["CO_URL"].equals == "https://x"
    assert spec.examples[0].outputs["CO_JSON_ID"].matches == "[0-9]+"


def test_an_undeclared_expected_output_is_reported_at_its_key() -> None:
    assert problems(GOOD) == [
        "component.yaml:23:69: error: example 'deploys' expects output 'CO_URL_2', "
        "which the spec does not declare"
    ]


def test_every_problem_at_once_with_line_and_column() -> None:
    found = problems(
        """\
namespace: Acme
name: ../etc
version: 1.0
titel: typo
inputs:
  - name: url
    type: strng
  - {name: mode, type: enum}
  - {name: n, type: integer, default: abc}
  - nam: x
timeout: forever
"""
    )
    assert found == [
        "component.yaml:1:12: error: namespace 'Acme' is not valid: use 1 to 64 lowercase letters, "
        "digits, '-' and '_', starting and ending with a letter or digit",
        "component.yaml:2:7: error: name '../etc' is not valid: use 1 to 64 lowercase letters, "
        "digits, '-' and '_', starting and ending with a letter or digit",
        "component.yaml:3:10: error: version '1.0' is not valid: use a semantic version MAJOR.MINOR.PATCH "
        "such as 1.0.0 (optionally -PRERELEASE, such as 1.0.0-rc.1)",
        "component.yaml:4:1: error: unknown key 'titel' in the spec; did you mean 'title'?",
        "component.yaml:7:11: error: inputs[0].type: unknown input type 'strng'; "
        "choose one of: string, integer, number, boolean, enum, list",
        "component.yaml:8:5: error: inputs[1]: input 'mode' is an enum: "
        "list its allowed values under 'values:'",
        "component.yaml:9:5: error: inputs[2]: default of input 'n': expected an integer, got 'abc'",
        "component.yaml:10:5: error: missing required key 'name' in inputs[3]",
        "component.yaml:10:5: error: unknown key 'nam' in inputs[3]; did you mean 'name'?",
        "component.yaml:11:10: error: timeout: invalid duration 'forever': use seconds (30) or a number "
        "with a unit, like 500ms, 30s, 5m, 1h30m or 2d",
    ]


def test_missing_keys_are_named() -> None:
    assert problems("title: nothing else\n") == [
        "component.yaml:1:1: error: missing required key 'namespace' in the spec",
        "component.yaml:1:1: error: missing required key 'name' in the spec",
        "component.yaml:1:1: error: missing required key 'version' in the spec",
    ]


def test_yaml_syntax_errors_and_empty_files() -> None:
    assert problems("namespace: a\nname: [b\n")[0].startswith("component.yaml:3:1: error: invalid YAML:")
    assert problems("") == [
        "component.yaml:1:1: error: the document is empty: a component spec needs at least namespace, "
        "name and version"
    ]
    assert problems("- a\n- b\n") == [
        "component.yaml:1:1: error: a component spec must be a mapping of keys to values"
    ]


def test_duplicate_keys_and_names() -> None:
    found = problems(
        """\
namespace: a
name: b
version: 1.0.0
name: c
inputs:
  - {name: git-url}
  - {name: git_url}
outputs:
  - {name: CO_X}
  - {name: CO_X}
examples:
  - {name: one}
  - {name: one}
"""
    )
    assert found == [
        "component.yaml:4:1: error: duplicate key 'name' (first at line 2)",
        "component.yaml:7:12: error: input 'git_url' and input 'git-url' both give CO_GIT_URL",
        "component.yaml:10:12: error: output 'CO_X' is declared twice",
        "component.yaml:13:12: error: two examples are called 'one'",
    ]


def test_examples_are_checked_against_the_inputs() -> None:
    found = problems(
        """\
namespace: a
name: b
version: 1.0.0
inputs:
  - {name: url, required: true}
  - {name: count, type: integer}
  - {name: mode, type: enum, values: [fast, slow]}
examples:
  - name: wrong
    inputs: {urll: x, count: many, mode: medium}
  - name: placeholder is fine
    inputs: {url: "${SERVER}/x", count: "${N}"}
"""
    )
    assert found == [
        "component.yaml:10:13: error: example 'wrong': input 'url': is required (string)",
        "component.yaml:10:14: error: example 'wrong': input 'urll': a/b has no such input; "
        "did you mean 'url'?",
        "component.yaml:10:30: error: example 'wrong': input 'count': expected an integer, got 'many'",
        "component.yaml:10:42: error: example 'wrong': input 'mode': 'medium' is not allowed; "
        "choose one of: fast, slow",
    ]


def test_wrong_kinds_of_values() -> None:
    found = problems(
        """\
namespace: a
name: b
version: 1.0.0
keywords: nope
title: [x]
inputs:
  - {name: x, required: maybe}
  - {name: y, required: true, default: 1}
  - {name: z, values: [a]}
  - {name: "bad name"}
examples:
  - {name: e, workspace: ../outside, outputs: {CO_A: {matches: "("}}}
"""
    )
    text = "\n".join(found)
    assert "component.yaml:4:11: error: keywords: Input should be a valid list" in text
    assert "component.yaml:5:8: error: title: Input should be a valid string" in text
    assert "component.yaml:7:25: error: inputs[0].required: Input should be a valid boolean" in text
    assert "component.yaml:8:5: error: inputs[1]: input 'y' is required and has a default: choose one" in text
    assert "component.yaml:9:5: error: inputs[2]: input 'z' has 'values:' but only an enum takes them" in text
    assert "component.yaml:10:5: error: inputs[3]: input name 'bad name' is not valid" in text
    assert "component.yaml:12:26: error: workspace '../outside' must be a folder inside" in text
    assert "'matches' is not a valid regular expression" in text


def test_load_spec_reads_the_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecInvalid, match="not a component folder"):
        load_spec(tmp_path / "nope")
    with pytest.raises(SpecInvalid, match=r"component.yaml: error: cannot read the component spec"):
        load_spec(tmp_path)
    (tmp_path / "component.yaml").write_text("namespace: a\nname: b\nversion: 1.0.0\n")
    loaded = load_spec(tmp_path)
    assert loaded.readme == "" and loaded.spec.name == "b" and loaded.folder == tmp_path
    (tmp_path / "README.md").write_text("# b\n")
    assert load_spec(tmp_path).readme == "# b\n"
    (tmp_path / "component.yaml").write_bytes(b"namespace: a\nname: \xff\n")
    with pytest.raises(SpecInvalid, match=r"component.yaml:2: error: the component spec is not UTF-8"):
        load_spec(tmp_path)


def test_spec_invalid_lists_every_problem_in_its_text() -> None:
    with pytest.raises(SpecInvalid) as caught:
        parse_spec("namespace: A\nname: B\nversion: 1\n", "c.yaml")
    assert str(caught.value).count("\n") == 2
    assert str(caught.value).startswith("c.yaml:1:12: error:")


@pytest.mark.parametrize("value", ["library", "git-clone", "a", "x_1", "0abc"])
def test_valid_names(value: str) -> None:
    assert validate_name("name", value) == value


@pytest.mark.parametrize(
    "value", ["", "Library", "../x", "a/b", "-a", "a-", "a.b", "a b", "é", "x" * 65, "a\nb", ".."]
)
def test_invalid_names(value: str) -> None:
    with pytest.raises(ValueError, match="is not valid: use 1 to 64 lowercase letters"):
        validate_name("namespace", value)


@pytest.mark.parametrize("value", ["1.0", "v1.0.0", "1.0.0+build", "01.0.0", "1.0.0-", "latest"])
def test_invalid_versions(value: str) -> None:
    with pytest.raises(ValueError, match="semantic version"):
        validate_version(value)
