"""The original engine's routes: ``POST /flow/v1/.../{yaml|json}`` starts a flow,
``GET /flow/v1/.../{number}/runtime/{json|yaml}`` answers its state."""

from __future__ import annotations

import httpx
import pytest
import yaml
from tests.conftest import ROOT
from tests.server.conftest import LiveServer
from tests.server.flows import as_json, flow_doc, wait_for_run

PILOTAGE = ROOT.parent / "shared" / "compat" / "pilotage"
YAML_FLOW = yaml.safe_dump(flow_doc("demo/pilot/ci"), sort_keys=False)


def test_a_flow_posted_to_the_pilotage_route_runs_and_its_runtime_is_readable(admin: httpx.Client) -> None:
    answer = admin.post("/flow/v1/demo/pilot/ci/latest/yaml", content=YAML_FLOW)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body | {"id": 0} == {"id": 0, "number": 1, "uri": "demo/pilot/ci", "tag": "latest", "version": 1}
    document = wait_for_run(admin, body["id"])
    assert document["status"] == "success" and document["trigger"]["type"] == "pilotage"

    runtime = admin.get("/flow/v1/demo/pilot/ci/latest/1/runtime/json")
    assert runtime.status_code == 200
    state = runtime.json()
    assert state["id"] == body["id"] and state["status"] == "success" and state["tag"] == "latest"
    assert [job["path"] for job in state["jobs"]] == ["build.unit.job0"]
    as_yaml = admin.get("/flow/v1/demo/pilot/ci/latest/1/runtime/yaml")
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == state

    second = admin.post("/flow/v1/demo/pilot/ci/latest/json", content=as_json(flow_doc("demo/pilot/ci")))
    assert second.status_code == 201 and second.json()["number"] == 2


def test_an_original_pilotage_flow_starts_as_it_was_written(admin: httpx.Client) -> None:
    source = (PILOTAGE / "component_ctest_ci-components.yml").read_text()
    uri = yaml.safe_load(source)["uri"]
    answer = admin.post(f"/flow/v1/{uri}/latest/yaml", content=source)
    assert answer.status_code == 201, answer.text
    document = wait_for_run(admin, answer.json()["id"])
    assert document["status"] == "success" and len(document["jobs"]) > 1


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("/flow/v1/demo/pilot/other/latest/yaml", YAML_FLOW, 422, "is not the route's"),
        ("/flow/v1/demo/pilot/ci/v2/yaml", YAML_FLOW, 422, "tag 'latest' is not the route's 'v2'"),
        ("/flow/v1/demo/pilot/ci/latest/json", YAML_FLOW, 422, "not JSON"),
        ("/flow/v1/demo/pilot/ci/latest/xml", YAML_FLOW, 422, "fmt"),
        ("/flow/v1/de..mo/pilot/ci/latest/yaml", YAML_FLOW, 400, "namespace"),
        ("/flow/v1/demo/pilot/ci/la$test/yaml", YAML_FLOW, 422, "path.tag"),
        ("/flow/v1/demo/pilot/ci/latest/yaml", "stages: [", 422, "the flow is invalid"),
        ("/flow/v1/demo/pilot/ci/latest/yaml", "", 422, "empty"),
    ],
)
def test_bad_pilotage_starts_are_4xx_and_start_nothing(
    admin: httpx.Client, path: str, body: str, status: int, fragment: str
) -> None:
    answer = admin.post(path, content=body)
    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["error"]
    assert admin.get("/api/v1/runs").json()["runs"] == []


def test_runtime_of_a_missing_run_or_another_tag_is_404(admin: httpx.Client) -> None:
    run = admin.post("/flow/v1/demo/pilot/ci/latest/yaml", content=YAML_FLOW).json()
    wait_for_run(admin, run["id"])
    for path in (
        "/flow/v1/demo/pilot/ci/latest/2/runtime/json",
        "/flow/v1/demo/pilot/ci/v9/1/runtime/json",
        "/flow/v1/demo/pilot/nope/latest/1/runtime/json",
    ):
        answer = admin.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"].startswith("no run ")
    assert admin.get("/flow/v1/demo/pilot/ci/latest/x/runtime/json").status_code == 422
    assert admin.get("/flow/v1/demo/pilot/ci/latest/1/runtime/toml").status_code == 422


def test_pilotage_routes_need_write_to_start(server: LiveServer) -> None:
    from containerops.store.accounts import create_token, create_user

    create_user(server.store, "demo")
    reader = create_token(server.store, "demo", "read")
    with server.client(reader) as client:
        answer = client.post("/flow/v1/demo/pilot/ci/latest/yaml", content=YAML_FLOW)
        assert answer.status_code == 403 and "write" in answer.json()["error"]
