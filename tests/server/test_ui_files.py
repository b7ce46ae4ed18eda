"""The server serves the built web UI at / beside the API: files of the build, index.html
for every other page path (deep links), the API's paths untouched, and a
Content-Security-Policy without inline script on all of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from tests.server.conftest import LiveServer

from containerops.server.ui import CSP, is_ui_path

INDEX = '<!doctype html><div id="root"></div><script type="module" src="/assets/app-1a2b.js"></script>'


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A small stand-in for ui/'s build output (the real one is used by tests/ui)."""
    root = tmp_path / "ui_dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "app-1a2b.js").write_text("console.log('app')\n")
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("not for the web\n")
    return root


@pytest.fixture
def served(start_server: Callable[..., LiveServer], build: Path) -> httpx.Client:
    return start_server(ui_dist=build).client()


@pytest.mark.parametrize("path", ["/", "/runs", "/runs/12", "/runs/12/jobs/build.unit.test", "/flows?x=1"])
def test_every_page_path_is_the_application(served: httpx.Client, path: str) -> None:
    answer = served.get(path)
    assert answer.status_code == 200 and answer.text == INDEX
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP.split("script-src")[1].split(";")[0]
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["x-frame-options"] == "DENY"


def test_files_of_the_build_are_served_and_hashed_assets_cached(served: httpx.Client) -> None:
    script = served.get("/assets/app-1a2b.js")
    assert script.status_code == 200 and script.text == "console.log('app')\n"
    assert "immutable" in script.headers["cache-control"]
    assert served.get("/favicon.svg").text == "<svg/>"
    missing = served.get("/assets/app-old.js")
    assert missing.status_code == 404 and "no file /assets/app-old.js" in missing.text


def test_nothing_outside_the_build_is_served(served: httpx.Client) -> None:
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
        answer = served.get(path)
        assert "not for the web" not in answer.text, path


def test_the_apis_paths_stay_the_apis(served: httpx.Client) -> None:
    missing = served.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    assert served.get("/api/v1/runs").status_code == 401  # JSON, not the page
    assert served.get("/openapi.json").json()["info"]["title"] == "ContainerOps"
    assert "swagger" in served.get("/docs").text.lower()
    assert served.get("/flow/v1/a/b/c/latest/1/runtime/json").status_code == 401
    assert served.post("/runs").status_code == 404  # only GET and HEAD are the UI's


def test_no_route_of_the_server_is_taken_for_a_page(
    start_server: Callable[..., LiveServer], build: Path
) -> None:
    """Every path the application serves (API, health, metrics, original routes) stays
    its own: a route added without its first segment in API_SEGMENTS fails here."""
    server = start_server(ui_dist=build)
    assert server.app is not None
    paths = {route.path for route in server.app.routes if hasattr(route, "path")}  # type: ignore[attr-defined]
    taken = sorted(path for path in paths if is_ui_path(path) and path != "/")
    assert taken == []
    with server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/metrics").status_code == 401  # the route's answer, not the page


def test_without_a_build_the_page_says_how_to_make_one(
    start_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    with start_server(ui_dist=tmp_path / "none").client() as client:
        answer = client.get("/runs")
        assert answer.status_code == 503 and "npm ci && npm run build" in answer.text
        assert client.get("/api/v1/runs").status_code == 401
