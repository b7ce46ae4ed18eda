"""``coops component init``, ``build`` and ``test`` on real Docker: what an author sees."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from containerops.component.build import build_component
from containerops.component.built import ComponentBuildError
from containerops.component.testserver import CaptureServer
from containerops.launch.component_tests import test_component as run_examples
from containerops.store import Store
from tests.cli.test_cli import coops

SPEC = """\
namespace: test
name: {name}
version: 0.1.0
inputs:
  - {{name: word, default: hi}}
  - {{name: password, secret: true, default: ""}}
  - {{name: url, default: ""}}
outputs:
  - {{name: CO_WORD}}
examples:
{examples}
"""

SCRIPT = """\
echo "the password is ${CO_PASSWORD}"
[ -n "$CO_URL" ] && wget -q -O - --post-data "word=$CO_WORD" "$CO_URL/hook" >/dev/null
echo "[COUT] CO_WORD = $CO_WORD"
[ "$CO_WORD" != "fail" ]
"""


def make(tmp_path: Path, name: str, examples: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "component.yaml").write_text(SPEC.format(name=name, examples=examples))
    (folder / "run.sh").write_text(SCRIPT)
    (folder / "Dockerfile").write_text(
        'FROM containerops/base:busybox\nCOPY run.sh /run.sh\nCMD ["sh", "-e", "/run.sh"]\n'
    )
    return folder


@pytest.mark.docker
@pytest.mark.parametrize("lang", ["shell", "python"])
def test_init_makes_a_skeleton_that_passes_its_own_test(
    tmp_path: Path, lang: str, docker_ready: None, built_images: list[str]
) -> None:
    name = f"greet-{lang}"
    built_images.append(f"coops/acme/{name}:0.1.0")
    home = tmp_path / "home"
    made = coops("component", "init", name, "--lang", lang, "--namespace", "acme", home=home, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / name
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["component.yaml", "Dockerfile", "README.md", "main.py" if lang == "python" else "run.sh"]
    )
    built = coops("component", "build", name, home=home, cwd=tmp_path, check=0)
    assert f"coops/acme/{name}:0.1.0" in built.stderr
    tested = coops("component", "test", name, "--no-build", home=home, cwd=tmp_path, check=0)
    assert "3/3 examples passed" in tested.stdout
    again = coops("component", "init", name, home=home, cwd=tmp_path, check=2)
    assert "already exists" in again.stderr
    # a flow in the original format gives the inputs only in CO_DATA: the skeleton reads them there
    flow = tmp_path / "codata.yaml"
    flow.write_text(
        "uri: acme/greet/codata\nstages:\n  - type: normal\n    name: s\n    actions:\n"
        "      - name: a\n        jobs:\n"
        f"          - name: greet\n            endpoint: coops/acme/{name}:0.1.0\n"
        "            environments: {CO_DATA: \"who='Ada Lovelace' shout=true\"}\n"
    )
    ran = coops("run", str(flow), "--json", home=home, cwd=tmp_path, check=0)
    [job] = json.loads(ran.stdout)["jobs"]
    assert job["outputs"] == {"CO_GREETING": "HELLO ADA LOVELACE"}, job
    # the example runs (one fails on purpose) are kept apart from the flows' runs
    listed = json.loads(coops("runs", "list", "--json", home=home, check=0).stdout)
    assert [run["uri"] for run in listed] == ["acme/greet/codata"]
    assert f"component-test/acme/{name}" not in coops("runs", "list", home=home, check=0).stdout
    tests = json.loads(coops("runs", "list", "--json", "--component-tests", home=home, check=0).stdout)
    assert sorted(run["uri"] for run in tests) == ["acme/greet/codata"] + [f"component-test/acme/{name}"] * 3
    only = coops("runs", "list", "--json", "--flow", f"component-test/acme/{name}", home=home, check=0)
    assert len(json.loads(only.stdout)) == 3


def test_init_refuses_bad_names_and_languages(tmp_path: Path) -> None:
    bad = coops("component", "init", "../evil", home=tmp_path / "home", cwd=tmp_path, check=2)
    assert "name '../evil' is not valid" in bad.stderr
    bad = coops("component", "init", "ok", "--namespace", "Up", home=tmp_path / "home", cwd=tmp_path, check=2)
    assert "namespace 'Up' is not valid" in bad.stderr
    bad = coops("component", "init", "ok", "--lang", "cobol", home=tmp_path / "home", cwd=tmp_path, check=2)
    assert "choose one of: python, shell" in bad.stderr
    assert not (tmp_path / "ok").exists()


def test_build_and_test_refuse_an_invalid_spec_with_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "component.yaml").write_text(
        "namespace: test\nname: broken\nversion: 1\ninputs:\n  - {type: x}\n"
    )
    for command in ("build", "test"):
        result = coops("component", command, str(folder), home=tmp_path / "home", check=2)
        lines = result.stderr.splitlines()
        assert f"{folder}/component.yaml:3:10: error: version '1' is not valid" in lines[0]
        assert any(
            f"{folder}/component.yaml:5:5: error: missing required key 'name'" in line for line in lines
        )
        assert "the component spec has 3 problems; nothing was done" in result.stderr


@pytest.mark.docker
def test_examples_are_compared_and_differences_said_clearly(
    tmp_path: Path, store: Store, docker_ready: None, built_images: list[str]
) -> None:
    built_images.append("coops/test/cmp:0.1.0")
    folder = make(
        tmp_path,
        "cmp",
        """\
  - {name: passes, outputs: {CO_WORD: hi}, logs: [the password is]}
  - {name: wrong output, inputs: {word: hey}, outputs: {CO_WORD: hi}}
  - {name: pattern, inputs: {word: abc123}, outputs: {CO_WORD: {matches: "[a-z]+[0-9]+"}}}
  - {name: wrong result, inputs: {word: fail}}
  - {name: expected failure, inputs: {word: fail}, result: false}
  - {name: missing log, logs: [never printed]}
  - name: unmet request
    inputs: {url: "${COOPS_TEST_SERVER}"}
    requests: [{method: POST, path: /hook, contains: word=elsewhere}]
  - name: met request
    inputs: {url: "${COOPS_TEST_SERVER}"}
    requests: [{method: POST, path: /hook, contains: word=hi}]
""",
    )
    results = {r.name: r for r in run_examples(folder, store=store)}
    assert [name for name, r in results.items() if r.passed] == [
        "passes",
        "pattern",
        "expected failure",
        "met request",
    ]
    assert results["wrong output"].problems == ["output CO_WORD: expected 'hi', got 'hey'"]
    assert results["wrong output"].log_tail[-1] == "[COUT] CO_WORD = hey"
    assert results["wrong result"].problems == [
        "result: expected the job to succeed, but it ended with failure (exit code 1)"
    ]
    assert results["missing log"].problems == ["logs: expected a line containing 'never printed'"]
    assert results["unmet request"].problems == [
        "requests: expected one with method='POST' path='/hook' contains='word=elsewhere'; "
        "the test server received: POST /hook"
    ]
    assert all(r.run_id is not None and r.status in ("success", "failure") for r in results.values())


@pytest.mark.docker
def test_secret_inputs_are_masked_in_everything_reported(
    tmp_path: Path, coops_home: Path, docker_ready: None, built_images: list[str]
) -> None:
    built_images.append("coops/test/secretive:0.1.0")
    make(
        tmp_path,
        "secretive",
        """\
  - {name: leaks, inputs: {password: hunter2-secret}, outputs: {CO_WORD: nope}}
""",
    )
    result = coops("component", "test", "secretive", home=coops_home, cwd=tmp_path, check=1)
    assert "hunter2-secret" not in result.stdout + result.stderr
    assert "the password is ***" in result.stdout
    assert "output CO_WORD: expected 'nope', got 'hi'" in result.stdout
    stored = coops("logs", "1", home=coops_home, check=0)
    assert "hunter2-secret" not in stored.stdout and "the password is ***" in stored.stdout


@pytest.mark.docker
def test_placeholders_come_from_set_then_the_environment(
    tmp_path: Path, coops_home: Path, docker_ready: None, built_images: list[str]
) -> None:
    built_images.append("coops/test/placed:0.1.0")
    make(
        tmp_path,
        "placed",
        """\
  - name: posts where told
    inputs: {url: "${HOOK_SERVER}", word: "${WORD}"}
    outputs: {CO_WORD: "${WORD}"}
""",
    )
    missing = coops("component", "test", "placed", home=coops_home, cwd=tmp_path, check=1)
    assert "the example uses ${HOOK_SERVER}, which nothing gives: run with --set HOOK_SERVER=VALUE" in (
        missing.stdout.replace("\n", " ").replace("     ", " ")
    )
    with CaptureServer() as server:
        coops(
            "component",
            "test",
            "placed",
            "--set",
            f"HOOK_SERVER={server.url}",
            "--no-build",
            home=coops_home,
            cwd=tmp_path,
            check=0,
            extra_env={"WORD": "from-env"},
        )
        assert [r.body for r in server.received] == [b"word=from-env"]
        coops(
            "component",
            "test",
            "placed",
            "--set",
            f"HOOK_SERVER={server.url}",
            "--set",
            "WORD=from-set",
            "--no-build",
            "--json",
            home=coops_home,
            cwd=tmp_path,
            check=0,
            extra_env={"WORD": "from-env"},
        )
        assert server.received[-1].body == b"word=from-set"
    bad = coops("component", "test", "placed", "--set", "1X=y", home=coops_home, cwd=tmp_path, check=2)
    assert "--set '1X=y': expected NAME=VALUE" in bad.stderr
    unknown = coops("component", "test", "placed", "-x", "nope", home=coops_home, cwd=tmp_path, check=2)
    assert "test/placed:0.1.0 has no example 'nope'; its examples: 'posts where told'" in unknown.stderr


@pytest.mark.docker
def test_a_build_failure_says_why(tmp_path: Path, docker_ready: None) -> None:
    folder = make(tmp_path, "nobuild", "  - {name: x}\n")
    (folder / "Dockerfile").write_text("FROM containerops/base:busybox\nRUN exit 3\n")
    with pytest.raises(
        ComponentBuildError, match=r"building coops/test/nobuild:0.1.0 failed: .*returned a non-zero code: 3"
    ):
        build_component(folder)
    (folder / "Dockerfile").write_text("FROM debian:bookworm\n")
    with pytest.raises(ComponentBuildError, match=re.escape("FROM debian:bookworm: no such image here")):
        build_component(folder)
    (folder / "Dockerfile").unlink()
    with pytest.raises(ComponentBuildError, match="a component folder needs a Dockerfile"):
        build_component(folder)
