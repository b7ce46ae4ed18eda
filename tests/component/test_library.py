"""The library components (components/), really working: every example of every one,
git-clone against a repository the test serves, the Slack and GitHub components against
capture servers on 127.0.0.1, and the example CI flow end to end through the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerops.component.build import build_component
from containerops.component.spec import ComponentSpec, image_name, load_spec
from containerops.component.testserver import CaptureServer
from containerops.engine import Engine
from containerops.store import Store
from tests.cli.test_cli import coops
from tests.component.gitserver import git, make_repository, serve, serve_daemon
from tests.conftest import ROOT
from tests.engine.scenarios import run_flow

LIBRARY = ROOT / "components"
FOLDERS = sorted(path for path in LIBRARY.iterdir() if (path / "component.yaml").is_file())


def test_the_library_has_what_the_issue_asks_for() -> None:
    names = {folder.name for folder in FOLDERS}
    assert names >= {
        "shell",
        "git-clone",
        "python-lint",
        "pytest",
        "http-request",
        "slack-notify",
        "github-status",
    }
    for folder in FOLDERS:
        loaded = load_spec(folder)
        spec = loaded.spec
        assert (spec.namespace, spec.name) == ("library", folder.name)
        assert spec.examples, f"{folder.name} has no examples"
        assert f"library/{folder.name}:" in loaded.readme, f"{folder.name}'s README shows no usage"
        dockerfile = (folder / "Dockerfile").read_text()
        assert "FROM containerops/base:" in dockerfile
        # stored specs are read back the same (the repository keeps them as JSON)
        assert ComponentSpec.model_validate(spec.model_dump(mode="json", exclude_none=True)) == spec


@pytest.mark.docker
@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_every_example_of_every_library_component_passes(
    folder: Path, coops_home: Path, docker_ready: None
) -> None:
    result = coops("component", "test", str(folder), home=coops_home)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    count = len(load_spec(folder).spec.examples)
    assert f"{count}/{count} examples passed" in result.stdout


def run_component(
    store: Store,
    folder: str,
    inputs: dict[str, str],
    *,
    secrets: tuple[str, ...] = (),
    then: str | None = None,
) -> tuple[str, dict[str, str], str, list[str]]:
    """Run one library component (and a shell check after it, in the same workspace)
    as a flow; (status, outputs, reason, log lines of the run)."""
    loaded = load_spec(LIBRARY / folder)
    build_component(loaded.folder, loaded=loaded)
    jobs: list[dict[str, object]] = [{"name": "it", "endpoint": image_name(loaded.spec), "inputs": inputs}]
    if then is not None:
        jobs.append({"name": "check", "endpoint": "containerops/base:python", "command": ["sh", "-c", then]})
    flow = {
        "uri": f"test/library/{folder}",
        "stages": [{"name": "s", "actions": [{"name": "a", "jobs": jobs}]}],
    }

    def mask(engine: Engine) -> None:
        engine.masker.add(*secrets)

    final = run_flow(store, "docker", flow, on_engine=mask)
    job = final.jobs["s.a.it"]
    lines = [row.line for row in store.log_lines(final.id)]
    return final.status, job.outputs, job.reason or "", lines


@pytest.mark.docker
def test_git_clone_clones_a_branch_a_tag_and_a_commit_over_http(
    tmp_path: Path, store: Store, docker_ready: None
) -> None:
    bare = make_repository(tmp_path, {"app.py": "print('one')\n"}, more={"second.py": "x = 2\n"})
    head = git("rev-parse", "main", cwd=bare)
    first = git("rev-parse", "v1^{commit}", cwd=bare)
    with serve(tmp_path) as server:
        url = f"{server}/repo.git"
        status, outputs, _, lines = run_component(
            store, "git-clone", {"url": url}, then="test -f /workspace/second.py && cat /workspace/app.py"
        )
        assert status == "success", lines
        assert outputs == {"CO_GIT_SHA": head, "CO_GIT_REF": "main", "CO_GIT_DIR": "/workspace"}
        assert "print('one')" in lines
        status, outputs, _, lines = run_component(
            store,
            "git-clone",
            {"url": url, "ref": "v1", "dir": "src"},
            then="! test -e /workspace/src/second.py",
        )
        assert status == "success", lines
        assert (outputs["CO_GIT_SHA"], outputs["CO_GIT_REF"]) == (first, "v1")
        status, outputs, _, lines = run_component(store, "git-clone", {"url": url, "ref": first[:10]})
        assert (status, outputs["CO_GIT_SHA"]) == ("success", first), lines
        status, _, _, lines = run_component(store, "git-clone", {"url": f"{server}/nothing.git"})
        assert status == "failure"
        assert any(f"cloning {server}/nothing.git failed" in line for line in lines), lines


@pytest.mark.docker
def test_git_clone_makes_shallow_clones_over_the_git_protocol(
    tmp_path: Path, store: Store, docker_ready: None
) -> None:
    bare = make_repository(tmp_path, {"a.py": "a = 1\n"}, more={"b.py": "b = 2\n"})
    head = git("rev-parse", "main", cwd=bare)
    with serve_daemon(tmp_path) as server:
        status, outputs, _, lines = run_component(
            store,
            "git-clone",
            {"url": f"{server}/repo.git", "ref": "main", "depth": "1"},
            then="cd /workspace && test $(git rev-list --count HEAD) = 1 && echo shallow",
        )
    assert (status, outputs["CO_GIT_SHA"]) == ("success", head), lines
    assert "shallow" in lines


@pytest.mark.docker
def test_git_clone_checks_out_what_a_webhook_names(tmp_path: Path, store: Store, docker_ready: None) -> None:
    """A pull request's head (refs/pull/N/head, a commit no branch holds), by its ref and by
    its bare SHA, and a non-default branch by name and as a push names it, shallow too,
    over the smart protocol a Git host speaks."""
    bare = make_repository(tmp_path, {"a.py": "a = 1\n"})
    work = tmp_path / "work"
    git("checkout", "-q", "-b", "feature", cwd=work)
    (work / "feature.py").write_text("f = 1\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "feature", cwd=work)
    git("checkout", "-q", "--detach", "main", cwd=work)
    (work / "pr.py").write_text("p = 1\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "pull request", cwd=work)
    pull = git("rev-parse", "HEAD", cwd=work)
    feature = git("rev-parse", "feature", cwd=work)
    git("push", "-q", str(bare), "feature", f"{pull}:refs/pull/2/head", cwd=work)
    with serve_daemon(tmp_path) as server:
        url = f"{server}/repo.git"
        for inputs, sha, ref, present in (
            ({"ref": "refs/pull/2/head"}, pull, "refs/pull/2/head", "pr.py"),
            ({"ref": pull, "depth": "1"}, pull, pull, "pr.py"),
            ({"ref": "feature"}, feature, "feature", "feature.py"),
            ({"ref": "refs/heads/feature", "depth": "1"}, feature, "feature", "feature.py"),
        ):
            status, outputs, _, lines = run_component(
                store, "git-clone", {"url": url, **inputs}, then=f"test -f /workspace/{present} && echo found"
            )
            assert status == "success", (inputs, lines)
            assert (outputs["CO_GIT_SHA"], outputs["CO_GIT_REF"]) == (sha, ref), inputs
            assert "found" in lines, (inputs, lines)


@pytest.mark.docker
def test_git_clone_sends_its_token_as_a_header_and_never_shows_it(
    tmp_path: Path, store: Store, docker_ready: None
) -> None:
    make_repository(tmp_path, {"app.py": "print('private')\n"})
    token = "tok-" + "s3cr3t" * 4
    with serve(tmp_path, token=token) as server:
        url = f"{server}/repo.git"
        status, outputs, _, lines = run_component(
            store, "git-clone", {"url": url, "token": token}, secrets=(token,)
        )
        assert status == "success", lines
        assert len(outputs["CO_GIT_SHA"]) == 40
        status, _, _, lines = run_component(
            store, "git-clone", {"url": url, "token": token + "-wrong"}, secrets=(token + "-wrong",)
        )
        assert status == "failure"
        assert not any(token in line for line in lines), lines
        assert any("cloning" in line and "failed" in line for line in lines), lines


@pytest.mark.docker
def test_slack_notify_posts_the_message_to_the_webhook(store: Store, docker_ready: None) -> None:
    with CaptureServer() as slack:
        webhook = f"{slack.url}/services/T1/B2/secretpart"
        status, outputs, _, lines = run_component(
            store,
            "slack-notify",
            {"webhook-url": webhook, "text": "deploy *done*", "channel": "#ops", "color": "good"},
            secrets=(webhook,),
        )
    assert status == "success", lines
    assert outputs == {"CO_STATUS_CODE": "200"}
    [request] = slack.received
    assert (request.method, request.path) == ("POST", "/services/T1/B2/secretpart")
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "text": "",
        "channel": "#ops",
        "attachments": [{"color": "good", "text": "deploy *done*", "fallback": "deploy *done*"}],
    }
    assert not any("secretpart" in line for line in lines)


@pytest.mark.docker
def test_github_status_calls_the_rest_api_with_its_token(store: Store, docker_ready: None) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    with CaptureServer() as github:
        status, outputs, _, lines = run_component(
            store,
            "github-status",
            {
                "api-url": f"{github.url}/api/v3",
                "token": "ghs_verysecret",
                "repository": "octo/demo",
                "sha": sha,
                "state": "pending",
                "context": "ci/unit",
                "description": "x" * 200,
                "target-url": "http://ci.invalid/runs/7",
            },
            secrets=("ghs_verysecret",),
        )
    assert status == "success", lines
    assert outputs["CO_STATUS_CODE"] == "200"
    [request] = github.received
    assert (request.method, request.path) == ("POST", f"/api/v3/repos/octo/demo/statuses/{sha}")
    assert request.headers["authorization"] == "Bearer ghs_verysecret"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.json() == {
        "state": "pending",
        "context": "ci/unit",
        "description": "x" * 140,
        "target_url": "http://ci.invalid/runs/7",
    }
    assert not any("ghs_verysecret" in line for line in lines)
