"""Integers no row can have (2**31 and beyond: ids are 32-bit on PostgreSQL and MySQL) are
refused or not found, never a 500 (a PostgreSQL query with 2**31 fails: "integer out of range")."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from tests.cli.test_cli import coops
from tests.server.conftest import LiveServer

HUGE = [2**31, 2**63, 10**20]
#: Path parameters that are numbers, and what to put in the others.
NUMERIC = {"run_id", "delivery_id", "version", "number"}
NAMES = {
    "namespace": "acme",
    "repository": "app",
    "name": "ci",
    "flow": "ci",
    "tag": "latest",
    "fmt": "json",
    "path": "build.unit.job0",
}


def numeric_routes(server: LiveServer) -> list[tuple[str, str]]:
    """(method, path template) of every documented route with a numeric path parameter."""
    assert server.app is not None
    paths = server.app.openapi()["paths"]
    return [
        (method.upper(), path)
        for path, methods in paths.items()
        if NUMERIC & set(re.findall(r"{(\w+)}", path))
        for method in methods
    ]


@pytest.mark.parametrize("huge", HUGE)
def test_huge_ids_in_paths_and_queries_are_never_a_500(
    server: LiveServer, admin: httpx.Client, huge: int
) -> None:
    routes = numeric_routes(server)
    assert len(routes) >= 9, routes  # runs (show, cancel, approve, reject, rerun, logs...), deliveries
    for method, template in routes:
        path = template.format(**{**NAMES, **dict.fromkeys(NUMERIC, huge)})
        answer = admin.request(method, path, json={} if method == "POST" else None)
        assert answer.status_code in (404, 422), (method, path, answer.status_code, answer.text)
        assert "error" in answer.json()
    for path, query in [
        ("/api/v1/runs", {"number": huge, "flow": "acme/app/ci"}),
        ("/api/v1/runs", {"before": huge}),
        ("/api/v1/deliveries", {"before": huge}),
        ("/api/v1/runs/1/logs", {"after": huge}),
        ("/api/v1/runs/1/logs/stream", {"after": huge}),
    ]:
        answer = admin.get(path, params=query)
        assert answer.status_code in (404, 422), (path, query, answer.text)
    version = admin.post("/api/v1/runs", json={"flow": "acme/app/ci", "version": huge})
    assert version.status_code == 422


def test_the_cli_says_plainly_that_a_huge_run_does_not_exist(tmp_path: Path) -> None:
    for ref in ("2147483648", "99999999999999999999", "demo/hello/ci#99999999999999999999"):
        for command in (["logs", ref], ["runs", "show", ref]):
            result = coops(*command, home=tmp_path / "home", check=None)
            assert result.returncode != 0, command
            assert "Traceback" not in result.stderr
            assert f"no run {ref}" in result.stderr, result.stderr
