"""End-to-end tests of the web UI: a real ``coops server`` process (local executor) and
Debian's chromium, driven by the Node scripts of ``ui/e2e`` through npm's playwright-core.

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

REPO = Path(__file__).resolve().parents[2]
E2E = REPO / "ui" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


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
def drive(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Run ``ui/e2e/SCRIPT`` against a server; its JSON result. Screenshots go to
    ``tmp_path/screenshots``."""

    def run(script: str, server: UiServer, timeout: float = 120, **env: str) -> dict[str, Any]:
        environment = {
            **os.environ,
            "COOPS_UI_URL": server.url,
            "COOPS_UI_TOKEN": server.token,
            "COOPS_UI_SCREENSHOTS": str(tmp_path / "screenshots"),
            "CHROMIUM": CHROMIUM,
            **env,
        }
        done = subprocess.run(
            ["node", str(E2E / script)], env=environment, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{script} failed:\n{done.stderr}\n{done.stdout}"
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    return run
