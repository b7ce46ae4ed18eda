"""The flow editor in a real browser against a real ``coops server``: a flow drawn from
library components and run on the Docker executor, and the YAML side checked by the
server's validator with its problems marked in place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from containerops.store import Store
from containerops.store.accounts import create_token, create_user
from tests.cli.test_cli import coops
from tests.conftest import ROOT
from tests.repository.conftest import registry_address  # noqa: F401  (a fixture)
from tests.server.conftest import ServerProcess
from tests.ui.conftest import UiServer

Drive = Callable[..., dict[str, Any]]


@pytest.fixture
def docker_ui_server(
    browser_tools: None,
    coops_home: Path,
    store: Store,
    registry_address: str,  # noqa: F811  (the fixture imported above)
    docker_ready: None,
) -> Iterator[UiServer]:
    """A ``coops server`` on the Docker executor whose repository holds library/shell."""
    env = {"COOPS_REGISTRY": registry_address}
    for name in ("shell", "http-request"):
        coops("component", "push", str(ROOT / "components" / name), home=coops_home, extra_env=env, check=0)
    create_user(store, "root", admin=True)
    token = create_token(store, "root", "write", name="ui-tests")
    process = ServerProcess(coops_home, "docker", env=env)
    process.start()
    try:
        yield UiServer(process, token, store)
    finally:
        process.stop()


@pytest.mark.docker
def test_draw_a_three_stage_flow_from_library_components_save_run_and_read_its_log(
    docker_ui_server: UiServer, drive: Drive, tmp_path: Path
) -> None:
    seen = drive("editor.mjs", docker_ui_server, timeout=300, FLOW_URI="ui/drawn/three")
    assert seen["stagesDrawn"] == ["start", "stage-1", "stage-2", "stage-3", "end"]
    assert seen["searched"] == ["library/shell"]  # http-request is in the repository too
    yaml = seen["yaml"]
    assert yaml.count("component: library/shell:1.0.0") == 3
    for n, stage in enumerate(["stage-1", "stage-2", "stage-3"], start=1):
        assert f"script: echo step {n} of {stage}" in yaml
    assert "timeout: 5m" in yaml
    assert seen["saved"] == "Saved ui/drawn/three as version 1."
    with docker_ui_server.client() as client:
        stored = client.get("/api/v1/flows/ui/drawn/three/versions/1").json()["source"]
    # what the page showed is what was saved (CodeMirror shows the text line by line)
    assert stored.strip().splitlines() == yaml.strip().splitlines()
    assert seen["statuses"] == ["success"] * 3
    assert "step 2 of stage-2" in seen["log"]
    # Opened again from the flows list, changed on the canvas, saved: version 2, whose text is
    # version 1's with one line added.
    assert seen["savedAgain"] == "Saved ui/drawn/three as version 2."
    with docker_ui_server.client() as client:
        second = client.get("/api/v1/flows/ui/drawn/three/versions/2").json()["source"]
    added = [line for line in second.splitlines() if line not in stored.splitlines()]
    assert added == ["            retries: 2"]
    assert second.replace("            retries: 2\n", "") == stored
    assert sorted(p.name for p in (tmp_path / "screenshots").iterdir()) == ["drawn-run-log.png", "editor.png"]


MISTAKE_FLOW = """\
uri: ui/demo/typed
stages:
  - {type: start, name: start}
  - name: build
    actions:
      - name: compile
        jobs:
          - name: make
            endpoint: containerops/base:busybox
            command: [sh, -c, "echo hi"]
            timeout: soon
  - {type: end, name: end}
"""


def test_a_mistake_in_the_yaml_is_marked_at_its_line_and_blocks_save(
    ui_server: UiServer, drive: Drive
) -> None:
    fixed = MISTAKE_FLOW.replace("timeout: soon", "timeout: 2m")
    line = MISTAKE_FLOW.splitlines().index("            timeout: soon") + 1
    env = {"FLOW_TEXT": MISTAKE_FLOW, "FIXED_TEXT": fixed, "MISTAKE_LINE": str(line)}
    seen = drive("yaml_mistake.mjs", ui_server, **env)
    column = MISTAKE_FLOW.splitlines()[line - 1].index("soon") + 1
    assert [p["line"] for p in seen["listed"]] == [str(line)], seen["listed"]
    assert seen["listed"][0]["text"].startswith(f"line {line}:{column}: ")
    assert "timeout" in seen["listed"][0]["text"]
    assert seen["markedLine"] == line and seen["markedText"].startswith("s")
    assert seen["gutterMarkers"] == 1
    assert seen["jobsDrawn"] == ["build.compile.make"]  # the canvas drew the YAML
    assert seen["saveEnabled"] is False
    assert seen["saveEnabledAfterFix"] is True
    assert seen["problems"] == []  # nothing in the console: the CSP let CodeMirror style itself
