"""Errors are JSON with the right status: a bug of ours is a logged 500, never an HTML
page or a dropped connection; unknown routes and methods are 404 and 405."""

from __future__ import annotations

import logging

import httpx
import pytest
from tests.server.conftest import LiveServer


def test_an_unexpected_error_is_a_logged_500_json(
    server: LiveServer, admin: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> None:
        raise ZeroDivisionError("a bug")

    assert server.app is not None
    server.app.add_api_route("/api/v1/broken", broken)
    with caplog.at_level(logging.ERROR, logger="containerops.server"):
        answer = admin.get("/api/v1/broken")
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal server error: ZeroDivisionError; see the server log"}
    logged = [r for r in caplog.records if r.name == "containerops.server"]
    assert logged and "GET /api/v1/broken" in logged[0].getMessage() and logged[0].exc_info is not None


def test_unknown_routes_and_methods(admin: httpx.Client) -> None:
    missing = admin.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    wrong = admin.put("/api/v1/runs")
    assert wrong.status_code == 405 and wrong.json() == {"error": "Method Not Allowed"}
