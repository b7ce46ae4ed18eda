"""The pieces around ``coops component test`` that need no container: the capture server,
the Dockerfile's base images, and examples refused before anything runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from containerops.component.built import base_images_of
from containerops.component.examples import MAX_WORKSPACE_BYTES
from containerops.component.testserver import CaptureServer
from containerops.launch.component_tests import test_component as run_examples
from containerops.store import Store


def test_the_capture_server_echoes_and_records_requests() -> None:
    with CaptureServer() as server:
        answer = httpx.post(
            f"{server.url}/things?a=1&a=2&b=x", json={"k": [1, 2]}, headers={"X-Trace": "t1"}, timeout=10
        )
        assert answer.status_code == 200
        echo = answer.json()
        assert (echo["method"], echo["path"], echo["query"]) == (
            "POST",
            "/things",
            {"a": ["1", "2"], "b": "x"},
        )
        assert echo["headers"]["x-trace"] == "t1" and echo["json"] == {"k": [1, 2]}
        assert httpx.get(f"{server.url}/status/418", timeout=10).status_code == 418
        assert httpx.put(f"{server.url}/status/503/deeper/path", timeout=10).status_code == 503
        assert httpx.get(f"{server.url}/statuses/404", timeout=10).status_code == 200
        assert [(r.method, r.path) for r in server.received] == [
            ("POST", "/things"),
            ("GET", "/status/418"),
            ("PUT", "/status/503/deeper/path"),
            ("GET", "/statuses/404"),
        ]
        assert server.received[0].json() == {"k": [1, 2]}
        assert server.url.startswith("http://127.0.0.1:")


def test_base_images_are_read_from_the_dockerfile() -> None:
    dockerfile = """\
FROM containerops/base:python AS build
RUN true
from --platform=linux/amd64 containerops/base:busybox
COPY --from=build /x /x
FROM build
"""
    assert base_images_of(dockerfile) == ["containerops/base:python", "containerops/base:busybox", "build"]


def write_component(folder: Path, examples: str) -> Path:
    folder.mkdir()
    (folder / "component.yaml").write_text(
        "namespace: test\nname: pre\nversion: 1.0.0\ninputs:\n  - {name: n, type: integer}\n"
        f"examples:\n{examples}"
    )
    return folder


def test_examples_that_cannot_start_are_reported_without_running(tmp_path: Path, store: Store) -> None:
    folder = write_component(
        tmp_path / "pre",
        """\
  - {name: too big, workspace: big}
  - {name: no folder, workspace: absent}
  - {name: placeholder, inputs: {n: "${COUNT}"}}
""",
    )
    (folder / "big").mkdir()
    (folder / "big" / "noise.bin").write_bytes(os.urandom(MAX_WORKSPACE_BYTES + 1024))
    os.environ.pop("COUNT", None)
    results = {r.name: r for r in run_examples(folder, store=store, build=False)}
    assert results["too big"].problems[0].startswith(f"workspace folder {folder / 'big'} is ")
    assert "keep example fixtures small" in results["too big"].problems[0]
    assert results["no folder"].problems == [f"workspace folder {folder / 'absent'} does not exist"]
    assert results["placeholder"].problems == [
        "the example uses ${COUNT}, which nothing gives: run with --set COUNT=VALUE "
        "(or set the environment variable COUNT)"
    ]
    # a value given for a placeholder is checked like any input
    [wrong] = run_examples(folder, store=store, build=False, sets={"COUNT": "many"}, only=["placeholder"])
    assert wrong.problems == ["input 'n': expected an integer, got 'many'"]
    assert all(r.run_id is None for r in [*results.values(), wrong])
    assert store.list_runs() == []
    with pytest.raises(
        ValueError, match=re.escape("test/pre:1.0.0 has no example 'nope'; its examples: 'too big'")
    ):
        run_examples(folder, store=store, build=False, only=["nope"])


def test_a_workspace_that_links_outside_the_component_is_refused(tmp_path: Path, store: Store) -> None:
    """An example cannot pack files from elsewhere on the machine through a symlink."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "id_rsa").write_text("private")
    folder = write_component(
        tmp_path / "pre",
        """\
  - {name: linked folder, workspace: ws}
  - {name: linked file, workspace: inner}
  - {name: link inside, workspace: fine}
""",
    )
    (folder / "ws").symlink_to(elsewhere)
    (folder / "inner").mkdir()
    (folder / "inner" / "key").symlink_to(elsewhere / "id_rsa")
    (folder / "fine").mkdir()
    (folder / "fine" / "data.txt").write_text("ok")
    (folder / "fine" / "alias.txt").symlink_to(folder / "fine" / "data.txt")
    results = {r.name: r for r in run_examples(folder, store=store, build=False)}
    assert results["linked folder"].problems == [
        f"workspace folder {folder / 'ws'} leads outside the component's folder {folder.resolve()}"
    ]
    assert results["linked file"].problems == [
        f"workspace file {folder / 'inner' / 'key'} is a link to {elsewhere / 'id_rsa'}, "
        f"outside {folder.resolve()}"
    ]
    assert not any("outside" in problem for problem in results["link inside"].problems)
