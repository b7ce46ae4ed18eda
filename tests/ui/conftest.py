"""End-to-end tests of the web UI: a real ``coops server`` process (local executor) and
Debian's chromium, driven by the Node scripts of ``ui/e2e`` through npm's playwright-core.
One chromium serves the whole session (``ui/e2e/browser_server.mjs``); each test's script
connects to it and works in a browser context of its own (its own cookies and storage).

``COOPS_UI_DOCS=1`` also copies the README's screenshots into ``docs/ui`` as the tests take
them (the editor, a run's graph while it runs, a job's log).

Nothing here is skipped: without chromium, Node, the UI's npm packages or its build, the
test fails saying which is missing and how ``scripts/setup.sh`` provides it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from containerops.server.ui import UI_DIST
from containerops.store import Store
from containerops.store.accounts import create_token, create_user
from tests.server.conftest import ServerProcess
from tests.ui.browser_server import BrowserServerError, browser_server

REPO = Path(__file__).resolve().parents[2]
E2E = REPO / "ui" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: screenshot a test takes -> the README's picture it is (``COOPS_UI_DOCS=1``).
DOC_SHOTS = {"editor.png": "editor.png", "run-running.png": "live-run.png", "job-logs.png": "job-logs.png"}


def missing_tools() -> list[str]:
    """What the browser tests need and this machine lacks, each with how to get it."""
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append(f"no chromium at {CHROMIUM}: `apt-get install chromium` (scripts/setup.sh does)")
    if shutil.which("node") is None:
        missing.append("no `node` on PATH: scripts/setup.sh installs Node.js 20")
    if not (REPO / "ui" / "node_modules" / "playwright-core").is_dir():
        missing.append("ui/node_modules has no playwright-core: `npm ci` in ui/ (scripts/setup.sh does)")
    if not (UI_DIST / "index.html").is_file():
        missing.append(f"the UI is not built ({UI_DIST}): `npm run build` in ui/ (scripts/setup.sh does)")
    return missing


@pytest.fixture(scope="session")
def browser_tools() -> None:
    missing = missing_tools()
    if missing:
        pytest.fail("the web UI tests cannot run:\n" + "\n".join(missing), pytrace=False)


@pytest.fixture(scope="session")
def browser_endpoint(browser_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The playwright endpoint of the session's chromium: one for every test (each in a
    context of its own) instead of one per test; stopped at the session's end."""
    log = tmp_path_factory.mktemp("chromium") / "browser_server.log"
    with log.open("w") as errors:
        try:
            with browser_server(CHROMIUM, errors) as endpoint:
                yield endpoint
        except BrowserServerError as error:
            pytest.fail(f"chromium did not start for the UI tests: {error}\n{log.read_text()}", pytrace=False)


@dataclass
class UiServer:
    """A ``coops server`` process and a token of a site administrator on it."""

    process: ServerProcess
    token: str
    store: Store

    @property
    def url(self) -> str:
        return self.process.url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    def start_run(self, flow: str) -> int:
        """Save ``flow`` (YAML) as a new version and start it: the run's id."""
        with self.client() as client:
            saved = client.post("/api/v1/flows", content=flow)
            assert saved.status_code in (200, 201), saved.text
            started = client.post("/api/v1/runs", json={"flow": saved.json()["uri"]})
            assert started.status_code == 202, started.text
            return int(started.json()["id"])


@pytest.fixture
def ui_server(browser_tools: None, coops_home: Path, store: Store) -> Iterator[UiServer]:
    create_user(store, "root", admin=True)
    token = create_token(store, "root", "write", name="ui-tests")
    process = ServerProcess(coops_home, "local")
    process.start()
    try:
        yield UiServer(process, token, store)
    finally:
        process.stop()


@pytest.fixture
def drive(tmp_path: Path, browser_endpoint: str) -> Callable[..., dict[str, Any]]:
    """Run ``ui/e2e/SCRIPT`` against a server in the session's chromium; its JSON result.
    Screenshots go to ``tmp_path/screenshots`` (and the README's to ``docs/ui`` with
    ``COOPS_UI_DOCS=1``)."""

    def run(script: str, server: UiServer, timeout: float = 120, **env: str) -> dict[str, Any]:
        environment = {
            **os.environ,
            "COOPS_UI_URL": server.url,
            "COOPS_UI_TOKEN": server.token,
            "COOPS_UI_SCREENSHOTS": str(tmp_path / "screenshots"),
            "CHROMIUM": CHROMIUM,
            "COOPS_UI_BROWSER_WS": browser_endpoint,
            **env,
        }
        done = subprocess.run(
            ["node", str(E2E / script)], env=environment, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{script} failed:\n{done.stderr}\n{done.stdout}"
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        if os.environ.get("COOPS_UI_DOCS"):
            for taken, shown in DOC_SHOTS.items():
                if (tmp_path / "screenshots" / taken).is_file():
                    shutil.copyfile(tmp_path / "screenshots" / taken, REPO / "docs" / "ui" / shown)
        return result

    return run
