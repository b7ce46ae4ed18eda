"""Every time the API answers and the CLI prints is RFC 3339 with its offset, in one
form (``2026-12-03T22:10:07.123456+00:00``): runs, jobs, attempts, history, log lines,
flows, tokens and secrets; ``--json`` and the run table alike."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from tests.server.conftest import LiveServer
from tests.server.flows import flow_doc, start, wait_for_run

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


def times_in(document: Any, where: str = "") -> dict[str, str]:
    """Every value of a key ``at`` or ``*_at`` in a JSON document, by its path."""
    found: dict[str, str] = {}
    if isinstance(document, dict):
        for key, value in document.items():
            if (key == "at" or key.endswith("_at")) and value is not None:
                found[f"{where}.{key}"] = value
            else:
                found.update(times_in(value, f"{where}.{key}"))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.update(times_in(value, f"{where}[{index}]"))
    return found


def assert_rfc3339(document: Any, *expected: str) -> None:
    """Every time in ``document`` is RFC 3339 in UTC, and those named in ``expected`` are there."""
    found = times_in(document)
    for name in expected:
        assert any(re.fullmatch(name, path) for path in found), f"no time at {name} in {sorted(found)}"
    for path, value in found.items():
        assert isinstance(value, str) and RFC3339.match(value), f"{path} = {value!r}"
        assert datetime.fromisoformat(value).utcoffset() == timedelta(0), f"{path} = {value!r}"


def coops(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "containerops.cli.main", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_api_and_cli_times_are_rfc3339_with_offset(server: LiveServer, admin: httpx.Client) -> None:
    run = start(admin, flow_doc(jobs=2, lines=3))
    document = wait_for_run(admin, run["id"])
    shown_by = {
        "api": document,
        "cli": json.loads(coops("runs", "show", str(run["id"]), "--json")),
    }
    for shown in shown_by.values():
        assert_rfc3339(
            shown,
            r"\.created_at",
            r"\.finished_at",
            r"\.jobs\[1\]\.finished_at",
            r"\.attempts\[0\]\.started_at",
            r"\.history\[\d+\]\.at",
        )
    assert shown_by["api"]["history"] == shown_by["cli"]["history"]

    assert_rfc3339(admin.get("/api/v1/runs").json(), r".*\.created_at")
    assert_rfc3339(json.loads(coops("runs", "list", "--json")), r".*\.created_at")
    assert_rfc3339(admin.get(f"/api/v1/runs/{run['id']}/logs").json(), r".*\.at")
    assert_rfc3339(admin.get("/api/v1/flows").json(), r".*\.created_at")

    # A time given with another offset comes back as the same instant, in UTC.
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    made = admin.post(
        "/api/v1/tokens",
        json={"scope": "read", "expires_at": expires.astimezone(timezone(timedelta(hours=2))).isoformat()},
    ).json()
    assert_rfc3339(made, r"\.expires_at")
    assert datetime.fromisoformat(made["expires_at"]) == expires
    assert_rfc3339(admin.get("/api/v1/tokens").json(), r".*\.created_at", r".*\.expires_at")
    assert_rfc3339(json.loads(coops("token", "list", "--json")), r".*\.created_at", r".*\.expires_at")
    assert admin.put("/api/v1/namespaces/root/secrets/KEY", json={"value": "v"}).status_code in (200, 201)
    assert_rfc3339(admin.get("/api/v1/namespaces/root/secrets").json(), r".*\.created_at", r".*\.updated_at")

    # The human forms: the run table and `coops logs -t` show the same kind of text.
    table = coops("runs", "list")
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", table), table
    stamped = coops("logs", str(run["id"]), "-t").splitlines()
    assert stamped and all(RFC3339.match(line.split(" ", 1)[0]) for line in stamped), stamped
