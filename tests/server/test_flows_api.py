"""``/api/v1/flows`` on a real server: versions from YAML and JSON, listing, showing, deleting,
and bad input answered with 4xx JSON that says what and where."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.server.flows import as_json, flow_doc

from containerops.store import Store
from containerops.store.accounts import create_token

YAML_FLOW = """\
uri: demo/yaml/ci
stages:
  - {type: start, name: start}
  - type: normal
    name: build
    actions:
      - name: unit
        jobs:
          - {name: test, endpoint: containerops/base:busybox}
  - {type: end, name: end}
"""


def test_a_flow_posted_as_yaml_or_json_gets_versions(admin: httpx.Client) -> None:
    first = admin.post("/api/v1/flows", content=YAML_FLOW, headers={"Content-Type": "application/yaml"})
    assert first.status_code == 201, first.text
    assert first.json() | {"id": 0, "version_id": 0} == {
        "id": 0,
        "uri": "demo/yaml/ci",
        "version": 1,
        "version_id": 0,
        "created": True,
        "warnings": [],
    }
    same = admin.post("/api/v1/flows", content=YAML_FLOW)
    assert same.status_code == 200 and same.json()["version"] == 1 and not same.json()["created"]
    changed = admin.post("/api/v1/flows", content=YAML_FLOW.replace("name: test", "name: test2"))
    assert changed.status_code == 201 and changed.json()["version"] == 2
    as_json_doc = admin.post("/api/v1/flows", content=as_json(flow_doc("demo/json/ci")))
    assert as_json_doc.status_code == 201 and as_json_doc.json()["uri"] == "demo/json/ci"

    shown = admin.get("/api/v1/flows/demo/yaml/ci").json()
    assert shown["latest_version"] == 2 and shown["versions"] == 2 and shown["runs"] == 0
    assert [v["version"] for v in shown["version_list"]] == [2, 1]
    version = admin.get("/api/v1/flows/demo/yaml/ci/versions/1").json()
    assert version["source"] == YAML_FLOW and version["format"] == "yaml"
    listed = admin.get("/api/v1/flows").json()
    assert [f["uri"] for f in listed["flows"]] == ["demo/json/ci", "demo/yaml/ci"]


TRIGGERED = YAML_FLOW.replace(
    "stages:",
    """triggers:
  - {type: cron, schedule: "0 3 * * *", timezone: Europe/Paris}
  - {type: github, secret: HOOK, branches: [main]}
  - {type: webhook, token: TOKEN}
stages:""",
)


def test_a_flows_versions_say_who_saved_them_and_its_triggers_are_shown(
    admin: httpx.Client, store: Store, server: LiveServer
) -> None:
    """The web UI's flow page: who saved each version and when, the newest one's triggers
    (secrets by name) with the path their webhooks are posted to."""
    assert admin.post("/api/v1/flows", content=YAML_FLOW).status_code == 201
    store.save_flow("demo/yaml/ci", TRIGGERED, "yaml")  # as `coops run` saves: nobody named
    shown = admin.get("/api/v1/flows/demo/yaml/ci").json()
    assert [(v["version"], v["created_by"]) for v in shown["version_list"]] == [(2, None), (1, "root")]
    assert all(datetime.fromisoformat(v["created_at"]).tzinfo for v in shown["version_list"])
    assert admin.get("/api/v1/flows/demo/yaml/ci/versions/1").json()["created_by"] == "root"
    assert shown["triggers"] == [
        {"type": "cron", "schedule": "0 3 * * *", "timezone": "Europe/Paris"},
        {
            "type": "github",
            "secret": "HOOK",
            "events": ["push", "pull_request"],
            "branches": ["main"],
            "hook": "/hooks/github/demo/yaml/ci",
        },
        {"type": "webhook", "token": "TOKEN", "hook": "/hooks/webhook/demo/yaml/ci"},
    ]
    assert admin.post("/api/v1/flows", content=YAML_FLOW).json()["version"] == 3  # back to none
    assert admin.get("/api/v1/flows/demo/yaml/ci").json()["triggers"] == []


def test_listing_pages_by_uri(admin: httpx.Client) -> None:
    for name in ("a", "b", "c"):
        assert admin.post("/api/v1/flows", content=as_json(flow_doc(f"page/x/{name}"))).status_code == 201
    first = admin.get("/api/v1/flows", params={"limit": 2}).json()
    assert [f["uri"] for f in first["flows"]] == ["page/x/a", "page/x/b"] and first["next"] == "page/x/b"
    second = admin.get("/api/v1/flows", params={"limit": 2, "after": first["next"]}).json()
    assert [f["uri"] for f in second["flows"]] == ["page/x/c"] and second["next"] is None
    only = admin.get("/api/v1/flows", params={"namespace": "nothing"}).json()
    assert only["flows"] == []


def test_an_invalid_flow_is_422_with_every_problem_and_its_line(admin: httpx.Client) -> None:
    bad = YAML_FLOW.replace("uri: demo/yaml/ci", "uri: Not A Uri").replace(
        "{name: test, endpoint: containerops/base:busybox}", "{name: test, timeout: soon}"
    )
    answer = admin.post("/api/v1/flows", content=bad)
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"].startswith("the flow is invalid: ")
    errors = [p for p in body["problems"] if p["severity"] == "error"]
    assert len(errors) >= 2
    lines = {p["line"] for p in errors}
    assert 1 in lines and 9 in lines, errors  # the uri, and the job's timeout
    assert admin.get("/api/v1/flows").json()["flows"] == []  # nothing was saved


def test_validate_answers_the_problems_of_a_save_with_their_lines_and_saves_nothing(
    server: LiveServer, admin: httpx.Client, store: Store
) -> None:
    good = admin.post("/api/v1/flows/validate", content=YAML_FLOW)
    assert good.status_code == 200 and good.json() == {
        "valid": True, "uri": "demo/yaml/ci", "problems": [], "warnings": [],
    }  # fmt: skip
    bad = YAML_FLOW.replace("busybox}", "busybox, timeout: soon}")
    checked = admin.post("/api/v1/flows/validate", content=bad).json()
    assert checked["valid"] is False
    column = bad.splitlines()[8].index("soon") + 1
    assert [(p["line"], p["column"]) for p in checked["problems"]] == [(9, column)], checked
    assert "timeout" in checked["problems"][0]["message"]
    # Components are resolved as a save resolves them: one that does not exist is a problem
    # at the line of its job.
    missing = YAML_FLOW.replace("endpoint: containerops/base:busybox", "component: library/nowhere:1.0.0")
    unresolved = admin.post("/api/v1/flows/validate", content=missing).json()
    assert unresolved["valid"] is False and unresolved["problems"][0]["line"] == 9, unresolved
    assert "library/nowhere" in unresolved["problems"][0]["message"]
    empty = admin.post("/api/v1/flows/validate", content=b"  ").json()
    assert empty["valid"] is False and "empty" in empty["problems"][0]["message"]
    assert admin.get("/api/v1/flows").json()["flows"] == []  # nothing was saved
    # Checking is for writers of the flow's namespace, as saving is.
    with server.client(create_token(store, "root", "read")) as reader:
        refused = reader.post("/api/v1/flows/validate", content=YAML_FLOW)
        assert refused.status_code == 403, refused.text
        schema = reader.get("/api/v1/flows/schema")
    assert schema.status_code == 200
    assert {"uri", "stages"} <= set(schema.json()["properties"])


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"{not json", "invalid"),
        (b"- just\n- a list\n", "invalid"),
    ],
)
def test_bad_bodies_are_4xx_never_500(admin: httpx.Client, body: bytes, fragment: str) -> None:
    answer = admin.post("/api/v1/flows", content=body)
    assert answer.status_code == 422, answer.text
    assert fragment in answer.json()["error"]


def test_bad_names_and_missing_flows(admin: httpx.Client) -> None:
    assert admin.get("/api/v1/flows/demo/x/nope").status_code == 404
    assert admin.get("/api/v1/flows/demo/x/nope").json() == {"error": "no flow demo/x/nope"}
    bad = admin.get("/api/v1/flows/de..mo/x/y")
    assert bad.status_code == 400 and "namespace" in bad.json()["error"]
    assert admin.get("/api/v1/flows/demo/x/y/versions/abc").status_code == 422
    assert admin.get("/api/v1/flows", params={"limit": 0}).status_code == 422
    spaced = admin.get("/api/v1/flows", params={"namespace": "a b"})
    assert spaced.status_code == 422 and "query.namespace" in spaced.json()["error"]


def test_a_deleted_flow_is_hidden_keeps_its_runs_and_comes_back(
    server: LiveServer, admin: httpx.Client
) -> None:
    doc = flow_doc("demo/gone/ci")
    assert admin.post("/api/v1/flows", content=as_json(doc)).status_code == 201
    run = admin.post("/api/v1/runs", json={"flow": "demo/gone/ci"}).json()
    assert admin.delete("/api/v1/flows/demo/gone/ci").status_code == 204
    assert admin.get("/api/v1/flows/demo/gone/ci").status_code == 404
    assert admin.get("/api/v1/flows").json()["flows"] == []
    refused = admin.post("/api/v1/runs", json={"flow": "demo/gone/ci"})
    assert refused.status_code == 404, refused.text
    assert admin.get(f"/api/v1/runs/{run['id']}").status_code == 200  # history stays
    assert admin.delete("/api/v1/flows/demo/gone/ci").status_code == 404
    back = admin.post("/api/v1/flows", content=as_json(doc))
    assert back.status_code == 200 and back.json()["version"] == 1
    assert admin.get("/api/v1/flows/demo/gone/ci").json()["runs"] == 1


def test_every_route_needs_a_token(server: LiveServer) -> None:
    with server.client() as anonymous:
        for method, path in [
            ("GET", "/api/v1/flows"),
            ("POST", "/api/v1/flows"),
            ("GET", "/api/v1/flows/a/b/c"),
            ("POST", "/api/v1/flows/validate"),
            ("GET", "/api/v1/flows/schema"),
            ("GET", "/api/v1/flows/a/b/c/versions/1"),
            ("DELETE", "/api/v1/flows/a/b/c"),
            ("GET", "/api/v1/runs"),
            ("POST", "/api/v1/runs"),
            ("GET", "/api/v1/runs/1"),
            ("POST", "/api/v1/runs/1/cancel"),
            ("POST", "/api/v1/runs/1/approve"),
            ("POST", "/api/v1/runs/1/reject"),
            ("POST", "/api/v1/runs/1/rerun"),
            ("GET", "/api/v1/runs/1/logs"),
            ("GET", "/api/v1/runs/1/logs/stream"),
            ("POST", "/flow/v1/a/b/c/latest/yaml"),
            ("GET", "/flow/v1/a/b/c/latest/1/runtime/json"),
        ]:
            answer = anonymous.request(method, path)
            assert answer.status_code == 401, (method, path, answer.text)
            assert "error" in answer.json()
        assert anonymous.get("/openapi.json").status_code == 200
