"""The components view and the operate views in a real browser against a real
``coops server``: search, a component's page with its README sanitised, yank a version, use
it in a new flow; tokens, secrets, schedules and webhook deliveries."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from containerops.component.spec import parse_spec
from containerops.repository.catalog import Catalog
from containerops.server.secrets import set_secret
from containerops.store import Store
from containerops.store.accounts import create_token, list_tokens
from containerops.store.components import PushRecord
from tests.ui.conftest import UiServer

Drive = Callable[..., dict[str, Any]]

SPEC = """\
namespace: acme
name: notify
version: {version}
title: Tell the team
keywords: [chat, notify]
inputs:
  - {{name: message, type: string, required: true, description: What to say}}
  - {{name: level, type: enum, values: [info, alarm], default: info}}
outputs:
  - {{name: SENT}}
"""

#: Markdown with what must not run: an image with a handler, a script, javascript: links.
README = """\
# Notify <img src=x onerror="window.__xss.push('img')">

Sends **one message** to the team.

<script>window.__xss.push('script')</script>
[click me](javascript:window.__xss.push('link'))
<a href="javascript:window.__xss.push('a')">or me</a>

    uses: acme/notify:1.1.0
"""

CRON_FLOW = """\
uri: acme/nightly/build
triggers:
  - {type: cron, schedule: "0 3 * * *", timezone: UTC}
  - {type: github, secret: HOOK}
stages:
  - name: build
    actions:
      - name: make
        jobs:
          - {name: it, endpoint: "containerops/base:busybox", command: [sh, -c, "echo built"]}
"""


def record(store: Store, version: str, readme: str) -> None:
    spec = parse_spec(SPEC.format(version=version))
    Catalog(store).record(
        PushRecord(
            namespace="acme",
            name="notify",
            version=version,
            digest="sha256:" + version.replace(".", "")[0] * 64,
            image_id=f"sha256:image-{version}",
            spec=spec.model_dump(mode="json", exclude_none=True),
            readme=readme,
            title=spec.title,
            description=spec.description,
            keywords=list(spec.keywords),
        )
    )


def test_components_view_and_operate_views(ui_server: UiServer, drive: Drive) -> None:
    store = ui_server.store
    record(store, "1.0.0", "old")
    record(store, "1.1.0", README)
    Catalog(store).deprecate("acme", "notify", "1.1.0", "use 2.x when it comes")
    set_secret(store, "acme", "HOOK", "hook-secret")
    with ui_server.client() as client:
        assert client.post("/api/v1/flows", content=CRON_FLOW).status_code == 201
        body = json.dumps({"ref": "refs/heads/main", "after": "a" * 40}).encode()
        headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4())}
        refused = client.post("/hooks/github/acme/nightly/build", content=body, headers=headers)
        assert refused.status_code == 401, refused.text  # not signed: refused, and recorded
        # The server's scheduler takes up a new cron trigger at its next sync (within 30 s).
        deadline = time.monotonic() + 60
        while not client.get("/api/v1/schedules").json()["schedules"]:
            assert time.monotonic() < deadline, "the cron trigger never became a schedule"
            time.sleep(0.5)

    admin = create_token(store, "root", "admin", name="ui-admin")  # tokens and secrets need it
    seen = drive("components.mjs", ui_server, timeout=180, COOPS_UI_TOKEN=admin)
    assert "acme/notify" in seen["all"]
    assert seen["searched"] == ["acme/notify"] and seen["searchUrl"] == "?q=notif"  # typed after "/"
    assert seen["shortcuts"][:2] == ["/", "?"] and seen["shortcutsAfterEscape"] == 0
    # Raw HTML in the README is text; Markdown makes the markup.
    assert seen["readmeHeading"] == "Notify <img src=x onerror=\"window.__xss.push('img')\">"
    assert "<script>window.__xss.push('script')</script>" in seen["readmeText"]
    assert seen["readmeBold"] == ["one message"]
    assert "uses: acme/notify:1.1.0" in seen["readmeText"]
    assert seen["dangerous"] == {"handlers": 0, "scripts": 0, "jsLinks": 0}
    assert seen["xss"] == []
    assert any(row.startswith("message *") for row in seen["inputs"])
    assert any("info | alarm" in row for row in seen["inputs"])
    assert seen["versionsBefore"] == [["1.1.0", "deprecated"], ["1.0.0", "ok"]]
    assert "yanked: broken build" in seen["yankedRow"]
    yanked = next(v for v in Catalog(store).versions("acme", "notify") if v.version == "1.0.0")
    assert yanked.yanked == "broken build"
    assert "component: acme/notify:1.1.0" in seen["newFlowYaml"]
    # A token is shown once, when made; revoked from the page.
    made = [t for t in list_tokens(store, "root") if t["name"] == "from-the-ui"]
    assert [t["state"] for t in made] == ["revoked"]
    assert seen["newToken"].startswith("coops_") or len(seen["newToken"]) > 20
    assert seen["tokenShownAfterReload"] == 0
    assert "DEPLOY_KEY" in seen["secrets"] and "s3cret-value" not in seen["secrets"]
    assert "0 3 * * *" in seen["schedule"]
    assert seen["deliveries"] == ["refused"]
    assert seen["problems"] == [], seen["problems"]
