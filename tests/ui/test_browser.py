"""The web UI in a real browser against a real ``coops server`` (local executor)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from containerops.store import pauses
from containerops.store.accounts import create_token
from tests.server.flows import wait_for_run
from tests.ui.conftest import UiServer

Drive = Callable[..., dict[str, Any]]

#: Three jobs in two stages; the first waits for a file the browser script creates once it
#: has seen the job running, so that the page must show the change as it happens.
LIVE_FLOW = r"""
uri: ui/demo/live
environments: {GATE: "%(gate)s"}
stages:
  - {type: start, name: start}
  - type: normal
    name: build
    sequencing: parallel
    actions:
      - name: compile
        jobs:
          - name: make
            endpoint: containerops/base:busybox
            command:
              - sh
              - -c
              - |
                echo compiling
                printf '\033[31mred warning\033[0m\n'
                while [ ! -e "$GATE" ]; do sleep 0.1; done
                echo '[COUT] ARTIFACT = app.tar'
                echo compiled
      - name: lint
        jobs:
          - {name: check, endpoint: "containerops/base:busybox", command: [sh, -c, "echo lint ok"]}
  - type: normal
    name: test
    actions:
      - name: unit
        jobs:
          - {name: pytest, endpoint: "containerops/base:busybox", command: [sh, -c, "echo 3 passed"]}
          - name: shards
            endpoint: containerops/base:busybox
            matrix: {shard: [1, 2, 3]}
            command: [sh, -c, "echo shard $CO_MATRIX_SHARD"]
  - {type: end, name: end}
"""


def test_sign_in_watch_a_run_turn_green_and_read_a_jobs_log(
    ui_server: UiServer, drive: Drive, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    run_id = ui_server.start_run(LIVE_FLOW % {"gate": gate})
    seen = drive("live_run.mjs", ui_server, RUN_ID=str(run_id), GATE=str(gate))

    assert "ui/demo/live" in seen["listed"]
    # The session is an HttpOnly, SameSite=Strict cookie; the page keeps no token.
    assert seen["cookie"] == {"httpOnly": True, "sameSite": "Strict"}
    assert seen["scriptSeesCookie"] is False
    assert seen["localStorage"] == 0
    # The first job was not done when the page opened (it waited for the gate), then every
    # job turned green on the same page: the run's event stream, not a reload.
    assert seen["before"]["build.compile.make"] in ("pending", "running")
    assert seen["after"] == dict.fromkeys(seen["after"], "success")
    # A matrix job is one node saying how many instances it ran.
    assert seen["matrix"].startswith("\u00d73 \u00b7 success")  # times 3, then the state
    assert seen["samePage"] is True
    # The job's log, its ANSI red line as a colour class and its output.
    assert "compiling" in seen["log"] and "compiled" in seen["log"]
    assert seen["redLines"] == ["red warning"]
    assert "ARTIFACT" in seen["outputs"] and "app.tar" in seen["outputs"]
    # Back closes the drawer, back again is the list, forward the run.
    assert seen["drawerAfterBack"] == 0
    assert seen["forward"].endswith(f"/runs/{run_id}")
    assert seen["flowResults"] == ["success"]
    assert (seen["cookieAfterSignOut"], seen["whoamiAfterSignOut"]) == (False, 401)
    assert [line for line in seen["consoleAfterSignOut"] if "401" not in line] == []
    assert (seen["light"], seen["dark"]) == ("rgb(255, 255, 255)", "rgb(21, 24, 30)")
    # The CSP let the application work: no violation, no error in the console.
    assert seen["problems"] == []
    assert sorted(p.name for p in (tmp_path / "screenshots").iterdir()) == [
        "job-logs.png", "run-dark.png", "run-done.png", "run-running.png", "runs.png",
    ]  # fmt: skip


PAYLOAD = '<img src=x onerror="window.__xss.push(1)">'
SCRIPT = "<script>window.__xss.push(2)</script>"
#: An OSC 8 hyperlink to a javascript: URL, as a terminal program could print one.
LINK = "\033]8;;javascript:window.__xss.push(3)\033\\\\click\033]8;;\033\\\\"

XSS_FLOW = r"""
uri: ui/demo/xss
stages:
  - {type: start, name: start}
  - type: normal
    name: build
    actions:
      - name: evil
        jobs:
          - name: job
            endpoint: containerops/base:busybox
            command:
              - sh
              - -c
              - |
                cat <<'EOF'
                log %(payload)s
                log %(script)s
                [COUT] HTML = %(payload)s
                EOF
                printf 'link %(link)s\n'
                exit 3
  - {type: end, name: end}
"""


def test_html_in_logs_outputs_and_reasons_shows_as_text_and_runs_nothing(
    ui_server: UiServer, drive: Drive
) -> None:
    flow = XSS_FLOW % {"payload": PAYLOAD, "script": SCRIPT, "link": LINK.replace("\033", "\\033")}
    run_id = ui_server.start_run(flow)
    with ui_server.client() as client:
        ended = wait_for_run(client, run_id)
    job = ended["jobs"][0]
    assert job["outputs"]["HTML"] == PAYLOAD  # what the page is given is the raw text

    seen = drive("xss.mjs", ui_server, RUN_ID=str(run_id), JOB=job["path"])
    assert f"log {PAYLOAD}" in seen["log"]
    assert f"log {SCRIPT}" in seen["log"]
    # ansi_up makes links of http(s) URLs only: this one is dropped, its text with it.
    assert seen["log"].splitlines()[-1].strip() == "link"
    assert PAYLOAD in seen["outputs"]
    assert seen["ran"] == []
    assert (seen["images"], seen["scripts"], seen["links"]) == (0, 0, 0)
    assert seen["problems"] == []
    # Markup put into the page by hand: the CSP refuses its inline handler.
    assert seen["csp"] == {"ran": [], "violations": ["script-src-attr"]}
    assert any("Content Security Policy" in line for line in seen["cspConsole"])


def test_a_reader_sees_no_write_buttons(ui_server: UiServer, drive: Drive) -> None:
    run_id = ui_server.start_run(XSS_FLOW % {"payload": "x", "script": "y", "link": "z"})
    with ui_server.client() as client:
        assert wait_for_run(client, run_id)["status"] == "failure"
    writer = drive("buttons.mjs", ui_server, RUN_ID=str(run_id))
    assert writer["buttons"] == ["Rerun failed jobs"]
    reader_token = create_token(ui_server.store, "root", "read", name="reader")
    reader = drive("buttons.mjs", ui_server, RUN_ID=str(run_id), COOPS_UI_TOKEN=reader_token)
    assert reader["who"] == "root (read)"
    assert reader["buttons"] == []


PAUSE_FLOW = """
uri: ui/demo/gate
stages:
  - {type: start, name: start}
  - {type: pause, name: approve, timeout: 10m}
  - type: normal
    name: deploy
    actions:
      - name: prod
        jobs:
          - {name: ship, endpoint: "containerops/base:busybox", command: [sh, -c, "echo shipped"]}
  - {type: end, name: end}
"""


def test_a_pause_is_approved_from_the_runs_page(ui_server: UiServer, drive: Drive) -> None:
    run_id = ui_server.start_run(PAUSE_FLOW)
    seen = drive("pause.mjs", ui_server, RUN_ID=str(run_id))
    assert seen["buttons"] == ["Approve", "Reject", "Cancel"]
    assert seen["after"] == []  # a run that succeeded has nothing to rerun
    assert seen["url"] == "?view=history"
    assert any("stage approve approved by root: looks <b>good</b>" in row for row in seen["history"])
    pause = pauses.pauses(ui_server.store, run_id)[0].to_json()
    decided = (pause["decision"], pause["decided_by"], pause["comment"])
    assert decided == ("approved", "root", "looks <b>good</b>")
