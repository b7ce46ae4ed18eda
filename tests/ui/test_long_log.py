"""A job's long log in the browser: virtualised (only the lines in sight are in the page),
searched, its first error found, downloaded whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.server.flows import wait_for_run
from tests.ui.conftest import UiServer

Drive = Callable[..., dict[str, Any]]
LINES = 100_000

LONG_FLOW = r"""
uri: ui/demo/long
stages:
  - type: normal
    name: build
    actions:
      - name: chatty
        jobs:
          - name: job
            endpoint: containerops/base:busybox
            command:
              - sh
              - -c
              - |
                i=1
                while [ $i -le %(lines)d ]; do
                  if [ $i -eq 60000 ]; then printf '\033[31mERROR: disk full\033[0m\n'
                  else echo "line $i"; fi
                  i=$((i + 1))
                done
"""


def test_a_long_log_is_virtualised_searched_and_downloaded(ui_server: UiServer, drive: Drive) -> None:
    run_id = ui_server.start_run(LONG_FLOW % {"lines": LINES})
    with ui_server.client() as client:
        ended = wait_for_run(client, run_id, timeout=120)
    assert ended["status"] == "success"
    env = {"RUN_ID": str(run_id), "JOB": "build.chatty.job", "LINES": str(LINES)}
    seen = drive("long_log.mjs", ui_server, timeout=240, **env)
    assert seen["count"] == LINES
    assert 0 < seen["inPage"] < 200, seen["inPage"]  # the page holds the lines in sight only
    assert seen["lastShown"] == f"line {LINES}"  # following: the end is in sight
    assert seen["matches"] == "1/1" and seen["currentMatch"] == "ERROR: disk full"
    assert seen["errorVisible"] is True and seen["errorRed"] == 1
    assert seen["downloadName"] == f"run-{run_id}-build.chatty.job.log"
    assert (seen["downloadLines"], seen["downloadLast"]) == (LINES, f"line {LINES}")
    assert seen["problems"] == []
