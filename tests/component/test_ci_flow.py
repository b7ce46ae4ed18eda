"""examples/ci.yaml end to end: library components pushed to the suite's registry, used
by name in the flow, cloning a repository served on 127.0.0.1, linting and testing it in
parallel, and reporting to Slack and GitHub doubles (capture servers on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from containerops.component.testserver import CaptureServer, Received
from tests.cli.test_cli import coops
from tests.component.gitserver import git, make_repository, serve
from tests.conftest import ROOT
from tests.repository.conftest import registry_address  # noqa: F401  (a fixture)

FLOW = ROOT / "examples" / "ci.yaml"
USED = ("git-clone", "python-lint", "pytest", "shell", "slack-notify", "github-status")
TOKEN = "ghp_replace_with_a_token_allowed_to_write_statuses"

PROJECT = {
    "calc.py": "import os\n\n\ndef add(a, b):\n    return a + b\n",
    "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
    "def test_add_negative():\n    assert add(-1, 1) == 0\n",
}


def local_flow(tmp_path: Path, repository: str, slack: str, github: str) -> Path:
    text = FLOW.read_text()
    for real, local in (
        ("https://github.com/containerops/demo-python.git", repository),
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX",
            f"{slack}/services/T000/B000/XXXXXXXXXXXX",
        ),
        ("https://api.github.com", github),
    ):
        assert real in text
        text = text.replace(real, local)
    path = tmp_path / "ci.yaml"
    path.write_text(text)
    return path


@pytest.mark.docker
def test_the_example_ci_flow_runs_with_library_components_only(
    tmp_path: Path,
    coops_home: Path,
    registry_address: str,  # noqa: F811  (the fixture imported above)
    docker_ready: None,
) -> None:
    env = {"COOPS_REGISTRY": registry_address}
    for name in USED:
        coops("component", "push", str(ROOT / "components" / name), home=coops_home, extra_env=env, check=0)
    flow_text = FLOW.read_text()
    assert "endpoint:" not in flow_text and flow_text.count("component: library/") == 6

    sha, run, slack, github = run_ci(tmp_path / "good", PROJECT, coops_home, env, exit_code=0)
    jobs = {job["path"]: job for job in run["jobs"]}
    assert jobs["source.clone.git"]["outputs"]["CO_GIT_SHA"] == sha
    assert jobs["check.lint.flake8"]["outputs"]["CO_FINDINGS"] == "1"
    assert json.loads(jobs["check.lint.flake8"]["outputs"]["CO_JSON_CONTENT"])["by_code"] == {"F401": 1}
    tests = jobs["check.test.pytest"]["outputs"]
    assert (tests["CO_PASSED"], tests["CO_FAILED"]) == ("2", "0")
    [message] = slack
    assert message.json()["text"] == f"demo-python {sha}: 2 tests passed, 0 failed, 1 lint findings: success"
    [status] = github
    assert status.path == f"/repos/containerops/demo-python/statuses/{sha}"
    assert status.headers["authorization"] == f"Bearer {TOKEN}"
    assert status.json()["state"] == "success" and status.json()["context"] == "ci/containerops"
    logs = coops("logs", str(run["id"]), home=coops_home, check=0).stdout
    assert TOKEN not in logs and "XXXXXXXXXXXX" not in logs
    shown = coops("runs", "show", str(run["id"]), "--flow", home=coops_home, check=0).stdout
    assert "component: library/git-clone:1.0.0" in shown

    # a failing test: the run fails, and the report still goes out, saying so
    failing = dict(PROJECT, **{"test_more.py": "def test_broken():\n    assert False\n"})
    sha, run, slack, github = run_ci(tmp_path / "bad", failing, coops_home, env, exit_code=1)
    jobs = {job["path"]: job for job in run["jobs"]}
    assert jobs["check.test.pytest"]["status"] == "failure"
    assert jobs["report.verdict.github"]["status"] == "success"
    assert slack[0].json()["text"].endswith("2 tests passed, 1 failed, 1 lint findings: failure")
    assert github[0].json()["state"] == "failure"
    assert github[0].path.endswith(sha)

    # the clone fails (no such repository): lint and tests are skipped, and the report jobs
    # still report it, on the commit the trigger named (here given as a webhook would)
    sha, run, slack, github = run_ci(
        tmp_path / "gone", PROJECT, coops_home, env, exit_code=1, repo="gone.git"
    )
    jobs = {job["path"]: job for job in run["jobs"]}
    assert jobs["source.clone.git"]["status"] == "failure"
    assert jobs["check.test.pytest"]["status"] == "skipped"
    assert {path: jobs[path]["status"] for path in jobs if path.startswith("report.")} == {
        "report.verdict.summarize": "success",
        "report.verdict.slack": "success",
        "report.verdict.github": "success",
    }
    [message] = slack
    assert message.json()["text"] == f"demo-python {sha}: the clone failed: failure"
    [status] = github
    assert status.path == f"/repos/containerops/demo-python/statuses/{sha}"
    assert status.json()["state"] == "failure"


def run_ci(
    folder: Path,
    project: dict[str, str],
    home: Path,
    env: dict[str, str],
    *,
    exit_code: int,
    repo: str = "repo.git",
) -> tuple[str, dict[str, Any], list[Received], list[Received]]:
    """Serve ``project`` as a repository, run the flow on ``repo`` of that server (with
    CO_GIT_SHA set as a webhook sets it): (sha, run JSON, Slack and GitHub requests)."""
    sha = git("rev-parse", "main", cwd=make_repository(folder, project))
    with serve(folder) as git_server, CaptureServer() as slack, CaptureServer() as github:
        flow = local_flow(folder, f"{git_server}/{repo}", slack.url, github.url)
        result = coops(
            "run",
            str(flow),
            "--network",
            "host",
            "--json",
            "--set",
            f"CO_GIT_SHA={sha}",
            home=home,
            extra_env=env,
        )
    assert result.returncode == exit_code, result.stdout + result.stderr
    return sha, json.loads(result.stdout), slack.received, github.received
