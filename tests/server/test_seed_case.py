"""The seed's case end to end: a GitHub pull request notifies the server, test components run
in Docker containers, and the result goes back to GitHub (a commit status) and to Slack."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable

import pytest
from tests.server.conftest import LiveServer

from containerops.component.testserver import CaptureServer
from containerops.contract.signatures import sign
from containerops.server.secrets import set_secret
from containerops.store import Store

SHA = "0123456789abcdef0123456789abcdef01234567"


def seed_flow(github_api: str, slack_url: str, verdict: str) -> str:
    return textwrap.dedent(
        f"""\
        uri: pingcap/tidb/pr-check
        triggers:
          - {{type: github, events: [pull_request], branches: [master], secret: GITHUB_WEBHOOK}}
        receivers:
          - {{type: github, url: "{github_api}", secret: GITHUB_TOKEN, context: containerops/unit}}
          - {{type: slack, url: "{slack_url}"}}
        stages:
          - {{type: start, name: start}}
          - type: normal
            name: test
            sequencing: parallel
            actions:
              - name: checkout
                jobs:
                  - name: event
                    endpoint: containerops/base:busybox
                    command: [sh, -c, 'test "$CO_EVENT" = pull_request && echo "[COUT] SHA = $CO_GIT_SHA"']
                    outputs: [SHA]
              - name: unit
                jobs:
                  - name: tests
                    endpoint: containerops/base:busybox
                    command: [sh, -c, 'echo "testing PR $CO_PR_NUMBER at $CO_GIT_REF"; {verdict}']
          - {{type: end, name: end}}
        """
    )


@pytest.mark.docker
@pytest.mark.parametrize(("verdict", "status"), [("true", "success"), ("exit 1", "failure")])
def test_pull_request_to_docker_jobs_to_commit_status_and_slack(
    docker_ready: None, store: Store, start_server: Callable[..., LiveServer], verdict: str, status: str
) -> None:
    server = start_server(executor="docker", network_mode="host")
    set_secret(store, "pingcap", "GITHUB_WEBHOOK", "webhook-secret")
    set_secret(store, "pingcap", "GITHUB_TOKEN", "ghs_token")
    payload = {
        "action": "opened",
        "number": 4242,
        "pull_request": {"head": {"sha": SHA, "ref": "fix-planner"}, "base": {"ref": "master"}},
        "repository": {"full_name": "pingcap/tidb", "clone_url": "https://github.com/pingcap/tidb.git"},
    }
    body = json.dumps(payload).encode()
    with CaptureServer() as github, CaptureServer() as slack:
        store.save_flow(
            "pingcap/tidb/pr-check", seed_flow(f"{github.url}/api/v3", f"{slack.url}/T/B/X", verdict), "yaml"
        )
        with server.client() as client:
            answer = client.post(
                "/hooks/github/pingcap/tidb/pr-check",
                content=body,
                headers={
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                    "X-Hub-Signature-256": sign("webhook-secret", body),
                    "Content-Type": "application/json",
                },
            )
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["run"]["id"]
        server.call(lambda: server.manager.wait(run_id), timeout=120)
        statuses = github.wait_for(2)
        (message,) = slack.wait_for(1)
    run = store.get_run(run_id)
    assert run.status == status
    jobs = {job.path: job for job in run.jobs}
    assert jobs["test.checkout.event"].outputs == {"SHA": SHA}
    logs = [line.line for line in store.log_lines(run_id)]
    assert "testing PR 4242 at refs/pull/4242/head" in logs
    assert [s.path for s in statuses] == [f"/api/v3/repos/pingcap/tidb/statuses/{SHA}"] * 2
    assert [s.json()["state"] for s in statuses] == ["pending", status]
    assert all(s.headers["authorization"] == "Bearer ghs_token" for s in statuses)
    text = message.json()["text"]
    assert f"pingcap/tidb/pr-check #{run.number}* {status}" in text
    if status == "failure":
        assert "`test.unit.tests`" in text
