"""Watching a run in the browser: its timeline, a job's attempts and history, their URLs,
and rerunning from the failed jobs from the page (a real ``coops server``, chromium)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.server.flows import wait_for_run
from tests.ui.conftest import UiServer
from tests.ui.test_components_and_operate import record

Drive = Callable[..., dict[str, Any]]

FLAKY = "build.compile.flaky"
GATED = "test.unit.gated"
TELL = "build.notify.tell"

#: ``flaky`` fails its first attempt (exit 4) and passes its retry; its pre script sets a
#: variable (a Lua effect the history records). ``gated`` prints a red line and fails until
#: the browser script creates the gate; in the rerun it then runs until the script creates
#: ``GATE.release``, so that the page shows it running. ``tell`` runs a repository component
#: (the flow is in acme, the component's namespace, so that it resolves), pinned by digest.
RERUN_FLOW = r"""
uri: acme/demo/rerun
environments: {GATE: "%(gate)s"}
stages:
  - {type: start, name: start}
  - type: normal
    name: build
    actions:
      - name: compile
        jobs:
          - name: flaky
            endpoint: containerops/base:busybox
            retries: 1
            pre: 'env.GREETING = "hi"'
            command:
              - sh
              - -c
              - 'if [ -e "$GATE.flaky" ]; then echo second; else touch "$GATE.flaky"; echo first; exit 4; fi'
      - name: notify
        jobs:
          - {name: tell, component: "acme/notify:1.1.0", inputs: {message: hi}, command: [echo, told]}
  - type: normal
    name: test
    actions:
      - name: unit
        jobs:
          - name: gated
            endpoint: containerops/base:busybox
            command:
              - sh
              - -c
              - |
                printf '\033[31mnot yet\033[0m\n'
                test -e "$GATE" || exit 1
                while [ ! -e "$GATE.release" ]; do sleep 0.1; done
  - {type: end, name: end}
"""


def test_timeline_attempts_history_their_urls_and_rerun_from_failed(
    ui_server: UiServer, drive: Drive, tmp_path: Path
) -> None:
    record(ui_server.store, "1.1.0", "Tells the team.")  # a repository component, pinned by digest
    gate = tmp_path / "gate"
    run_id = ui_server.start_run(RERUN_FLOW % {"gate": gate})
    with ui_server.client() as client:
        assert wait_for_run(client, run_id)["status"] == "failure"
    seen = drive(
        "watch_run.mjs", ui_server, RUN_ID=str(run_id), GATE=str(gate), FLAKY=FLAKY, GATED=GATED, TELL=TELL
    )

    flaky = f"/runs/{run_id}/jobs/{FLAKY}"
    assert seen["urls"] == [
        f"/runs/{run_id}?view=timeline",
        f"{flaky}?view=timeline",
        f"{flaky}?view=timeline&tab=attempts",
        f"{flaky}?view=timeline&tab=history",
    ]
    # One bar per attempt: the failed first one, then its retry; the failed job's one.
    assert seen["bars"] == {FLAKY: ["1:failure", "2:success"], TELL: ["1:success"], GATED: ["1:failure"]}
    assert seen["span"] > 0
    assert seen["attempts"] == [["1", "failure", "4"], ["2", "success", "0"]]
    history = "\n".join(seen["history"])
    assert "pre script changed environment GREETING" in history
    assert seen["digest"].startswith("none recorded")  # a tag, not a repository component
    # The component job: the digest it ran (the one recorded for 1.1.0), its page a link.
    assert seen["component"] == {
        "name": "acme/notify",
        "digest": "sha256:" + "1" * 64,
        "href": "/components/acme/notify",
    }
    assert seen["back"] == [
        f"{flaky}?view=timeline&tab=attempts",
        f"{flaky}?view=timeline",
        f"/runs/{run_id}?view=timeline",
    ]
    assert seen["drawerAfterBack"] == 0
    assert seen["forward"] == f"{flaky}?view=timeline&tab=attempts"
    deep = seen["deepLink"]
    assert (deep["view"], deep["attempts"]) == ("history", 2)
    assert deep["runHistory"] >= 6  # the run's and both jobs' changes
    assert seen["redLines"] == ["not yet"]
    # "Rerun failed jobs" opened the new run on the same view; it succeeded, the job that
    # passed kept (no new attempt: no bar), the failed one run again.
    match = re.fullmatch(r"/runs/(\d+)\?view=timeline", seen["rerunUrl"])
    assert match and int(match.group(1)) != run_id
    assert seen["rerunRows"] == [[FLAKY, "success"], [TELL, "success"], [GATED, "success"]]
    assert seen["rerunBars"] == {FLAKY: [], TELL: [], GATED: ["1:success"]}
    assert seen["keptRow"] == f"success: kept from run {run_id}, where it succeeded"
    # While the rerun ran, its bar was drawn running and the axis grew with the clock.
    assert seen["liveBar"] == "running"
    assert seen["liveSpans"][1] > seen["liveSpans"][0]
    assert any(f"kept from run {run_id}" in line for line in seen["keptHistory"])
    assert (seen["axeTimeline"], seen["axeAttempts"], seen["axeHistory"]) == ([], [], [])
    assert seen["problems"] == []
