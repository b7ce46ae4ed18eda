"""The namespace switcher and a flow's page in a real browser against a real ``coops
server``: who is signed in, a namespace chosen in the header filtering the listings and
kept in the URL; a flow's versions with who saved them, the diff between any two (as text),
its triggers, schedules and runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from containerops.store.accounts import create_org, create_token, create_user
from tests.server.flows import wait_for_run
from tests.ui.conftest import UiServer

Drive = Callable[..., dict[str, Any]]

PAYLOAD = '<img src=x onerror="window.__xss.push(1)">'
JOB = '          - {name: it, endpoint: "containerops/base:busybox", command: [sh, -c, "echo %s"]}\n'
HEAD = "uri: acme/app/ci\nstages:\n  - name: build\n    actions:\n      - name: make\n        jobs:\n"
V1 = HEAD + JOB % "built"
V2 = V1.replace("stages:", f"# {PAYLOAD}\nstages:").replace("echo built", "echo built twice")
TRIGGERS = """triggers:
  - {type: cron, schedule: "0 3 * * *", timezone: UTC}
  - {type: github, secret: HOOK}
"""
V3 = V2.replace(f"# {PAYLOAD}\n", TRIGGERS)
LINT = V1.replace("acme/app/ci", "alice/tools/lint")
HIDDEN = V1.replace("acme/app/ci", "ui/demo/hidden")


def test_namespace_switcher_and_a_flows_versions_diff_triggers_and_runs(
    ui_server: UiServer, drive: Drive, tmp_path: Path
) -> None:
    store = ui_server.store
    create_user(store, "alice")
    create_org(store, "acme", owner="alice")
    alice = create_token(store, "alice", "write", name="ui")
    with ui_server.client() as root:
        assert root.post("/api/v1/flows", content=HIDDEN).status_code == 201  # not alice's to see
    alice_server = UiServer(ui_server.process, alice, store)
    with alice_server.client() as client:
        for source in (V1, V2, LINT):
            assert client.post("/api/v1/flows", content=source).status_code == 201
    store.save_flow("acme/app/ci", V3, "yaml")  # as `coops run` saves a version: nobody named
    acme_run = alice_server.start_run(V3)
    lint_run = alice_server.start_run(LINT)
    with alice_server.client() as client:
        for run in (acme_run, lint_run):
            assert wait_for_run(client, run)["status"] == "success"
        deadline = time.monotonic() + 60  # the server's scheduler takes up the cron trigger
        while not client.get("/api/v1/schedules").json()["schedules"]:
            assert time.monotonic() < deadline, "the cron trigger never became a schedule"
            time.sleep(0.5)

    seen = drive("namespaces.mjs", alice_server, FLOW="acme/app/ci", STAT_1_3="+4 \u22121")

    assert seen["who"] == "alice (write)"
    assert seen["options"] == [
        "All namespaces",
        "alice (user, owner)",
        "acme (organization, owner)",
        "library (library, reader)",
    ]
    assert sorted(seen["runsAll"]) == sorted([str(acme_run), str(lint_run)])
    assert seen["runsAcme"] == ["acme/app/ci"]
    assert seen["role"].strip() == "\u00b7 owner of acme"
    assert seen["flowsUrl"] == "/flows?ns=acme" and seen["flowsAcme"] == ["acme/app/ci"]
    assert seen["componentsUrl"] == "/components?ns=acme"
    assert seen["operateUrl"] == "/operate/deliveries?ns=acme"
    assert seen["schedulesAcme"] == ["acme/app/ci"]
    assert (seen["deepFlows"], seen["deepSelected"]) == (["alice/tools/lint"], "alice")
    assert seen["flowsAll"] == ["acme/app/ci", "alice/tools/lint"]  # not ui/demo/hidden

    assert seen["versions"] == [["v3", "coops run (local)"], ["v2", "alice"], ["v1", "alice"]]
    assert seen["diffFromTo"] == ["2", "3"]  # the newest against the one before
    assert seen["unified"] == [
        ["same", " uri: acme/app/ci"],
        ["del", f"-# {PAYLOAD}"],
        ["add", "+triggers:"],
        ["add", '+  - {type: cron, schedule: "0 3 * * *", timezone: UTC}'],
        ["add", "+  - {type: github, secret: HOOK}"],
        ["same", " stages:"],
        ["same", "   - name: build"],
        ["same", "     actions:"],
    ]
    assert seen["stat"] == "+3 \u22121"
    assert seen["xss"] == [] and seen["images"] == 0  # the markup in a version is text
    assert seen["split"] == [
        [" uri: acme/app/ci", " uri: acme/app/ci"],
        [f"-# {PAYLOAD}", "+triggers:"],
        [None, '+  - {type: cron, schedule: "0 3 * * *", timezone: UTC}'],
        [None, "+  - {type: github, secret: HOOK}"],
        [" stages:", " stages:"],
        ["   - name: build", "   - name: build"],
        ["     actions:", "     actions:"],
    ]
    assert seen["splitUrl"] == "/flows/acme/app/ci?view=split"
    assert seen["splitChecked"] is True
    assert seen["oneToThree"] == "+4 \u22121" and seen["linkedFromTo"] == ["1", "3"]
    assert seen["triggers"] == [
        ["cron", "0 3 * * * (UTC)", ""],
        ["github", "events: push, pull_request; secret: HOOK", "POST /hooks/github/acme/app/ci"],
    ]
    assert seen["schedules"] == ["0 3 * * *"]
    assert seen["runs"] == [["#1", "v3", "success"]]
    assert {name: found for name, found in seen["axe"].items() if found} == {}
    assert seen["problems"] == []
    assert (tmp_path / "screenshots" / "flow-diff.png").is_file()
