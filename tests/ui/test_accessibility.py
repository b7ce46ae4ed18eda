"""axe-core on every page of the web UI in chromium, light and dark: no serious or critical
violation (missing labels, contrast, roles, keyboard traps...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from containerops.store.accounts import create_token
from tests.server.flows import wait_for_run
from tests.ui.conftest import UiServer
from tests.ui.test_browser import XSS_FLOW
from tests.ui.test_components_and_operate import README, record

Drive = Callable[..., dict[str, Any]]


def test_every_page_has_no_serious_or_critical_axe_violation(ui_server: UiServer, drive: Drive) -> None:
    record(ui_server.store, "1.1.0", README)
    run_id = ui_server.start_run(XSS_FLOW % {"payload": "x", "script": "y", "link": "z"})
    with ui_server.client() as client:
        job = wait_for_run(client, run_id)["jobs"][0]["path"]
    admin = create_token(ui_server.store, "root", "admin", name="a11y")  # for tokens and secrets
    env = {"RUN_ID": str(run_id), "JOB": job, "COMPONENT": "acme/notify", "COOPS_UI_TOKEN": admin}
    env["FLOW"] = "ui/demo/xss"  # its page: versions, the diff (none: one version), runs
    seen = drive("a11y.mjs", ui_server, timeout=300, **env)
    assert len(seen["checked"]) == 26  # 13 pages, light and dark (and the sign-in page)
    bad = {page: found for page, found in seen["pages"].items() if found}
    assert bad == {}, bad
    assert seen["problems"] == []
