"""A matrix through the server: the run document shows it as one job with counts, its
instances on request or a page at a time, and the CLI reads them the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from tests.server.conftest import LiveServer
from tests.server.flows import flow_doc, start, wait_for_run


def matrix_doc() -> dict[str, Any]:
    """One dummy job fanned out over 250 values, each printing its own as N."""
    doc = flow_doc("root/matrix/ci", outputs={"N": "${{ matrix.n }}"}, matrix={"n": {"count": 250}})
    doc["stages"][1]["actions"][0]["jobs"][0]["outputs"] = ["N"]
    return doc


def test_a_run_document_counts_a_matrix_and_lists_its_instances_on_request(
    server: LiveServer, admin: httpx.Client
) -> None:
    run = start(admin, matrix_doc())
    document = wait_for_run(admin, run["id"])
    assert document["status"] == "success"
    paths = [job["path"] for job in document["jobs"]]
    assert paths == ["build.unit.job0"]  # not 251 entries
    group = document["jobs"][0]
    assert group["matrix"] == {"instances": 250, "counts": {"success": 250}}
    assert json.loads(group["outputs"]["N"]) == [str(n) for n in range(250)]
    assert all("[" not in (item["job"] or "") for item in document["history"])

    full = admin.get(f"/api/v1/runs/{run['id']}", params={"instances": "true"}).json()
    assert len(full["jobs"]) == 251
    assert full["jobs"][1] == {**full["jobs"][1], "path": "build.unit.job0[n=0]", "group": "build.unit.job0"}

    page = admin.get(f"/api/v1/runs/{run['id']}/matrix/build.unit.job0", params={"offset": 200, "limit": 100})
    assert page.status_code == 200, page.text
    body = page.json()
    assert (body["instances"], body["next"], len(body["jobs"])) == (250, None, 50)
    assert body["jobs"][0]["path"] == "build.unit.job0[n=200]"
    first = admin.get(f"/api/v1/runs/{run['id']}/matrix/build.unit.job0", params={"limit": 100}).json()
    assert first["next"] == 100
    missing = admin.get(f"/api/v1/runs/{run['id']}/matrix/build.unit.nothing")
    assert missing.status_code == 404 and "has no matrix job 'build.unit.nothing'" in missing.json()["error"]
    bad = admin.get(f"/api/v1/runs/{run['id']}/matrix/build.unit.job0%5B..%2F%5D")
    assert bad.status_code in (400, 404)

    # one instance's logs are reached by its path
    logs = admin.get(f"/api/v1/runs/{run['id']}/logs", params={"job": "build.unit.job0[n=7]"})
    assert logs.status_code == 200, logs.text


def test_the_cli_shows_a_matrix_as_one_line_and_lists_instances_when_asked(
    server: LiveServer, admin: httpx.Client, admin_token: str, tmp_path: Path
) -> None:
    run = start(admin, matrix_doc())
    wait_for_run(admin, run["id"])
    # the client has a home of its own: it reads the server, not a store
    env = {**os.environ, "COOPS_TOKEN": admin_token, "COOPS_HOME": str(tmp_path / "client")}
    base = [
        sys.executable,
        "-m",
        "containerops.cli.main",
        "runs",
        "show",
        str(run["id"]),
        "--server",
        server.url,
    ]
    shown = subprocess.run(base, env=env, capture_output=True, text=True, check=True).stdout
    assert "build.unit.job0" in shown and "250 instances: 250 success" in shown
    assert "build.unit.job0[n=3]" not in shown
    listed = subprocess.run([*base, "--instances"], env=env, capture_output=True, text=True, check=True)
    assert "build.unit.job0[n=3]" in listed.stdout  # shown as written, not read as markup
