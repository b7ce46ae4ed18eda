"""Log lines through the API: pages, and Server-Sent Events that follow a job printing
tens of thousands of lines as it prints them, and end when the run ends."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from tests.server.conftest import LiveServer
from tests.server.flows import as_json, start, wait_for_run

from containerops.server import sse as sse_module
from containerops.server.api.logs import PAGE

LINES = 30_000


def printer_flow(
    uri: str = "demo/chatty/ci", *, lines: int = LINES, until: Path | None = None
) -> dict[str, Any]:
    """A local job that prints ``lines`` lines as fast as it can, waits until the file
    ``until`` exists (at most a minute), then prints one more; a second job prints two lines."""
    script = (
        "import os, sys, time\n"
        f"sys.stdout.write(''.join(f'line {{i}}\\n' for i in range(1, {lines} + 1)))\n"
        "sys.stdout.flush()\n"
        "deadline = time.monotonic() + 60\n"
        f"until = {str(until or '')!r}\n"
        "while until and not os.path.exists(until) and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n"
        "print('after the pause', file=sys.stderr)\n"
    )
    return {
        "uri": uri,
        "stages": [
            {"type": "start", "name": "start"},
            {
                "type": "normal",
                "name": "build",
                "actions": [
                    {
                        "name": "unit",
                        "jobs": [
                            {"name": "chatty", "command": [sys.executable, "-c", script]},
                            {"name": "quiet", "command": ["sh", "-c", "echo one; echo two"]},
                        ],
                    }
                ],
            },
            {"type": "end", "name": "end"},
        ],
    }


def sse(response: httpx.Response) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """(event, id, data) of each Server-Sent Event."""
    event, ident, data = "message", None, []
    for line in response.iter_lines():
        if not line:
            if data:
                yield event, ident, json.loads("\n".join(data))
            event, ident, data = "message", None, []
        elif line.startswith("id:"):
            ident = line[3:].strip()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def test_sse_follows_a_job_printing_thousands_of_lines_live(
    start_server: Callable[..., LiveServer], admin_token: str, tmp_path: Path
) -> None:
    live = start_server("local")
    go_on = tmp_path / "go-on"
    with live.client(admin_token) as admin:
        run = start(admin, printer_flow(until=go_on))
        received: list[dict[str, Any]] = []
        status_when_all_printed = None
        end: dict[str, Any] = {}
        with admin.stream("GET", f"/api/v1/runs/{run['id']}/logs/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for event, ident, data in sse(response):
                if event == "end":
                    end = data
                    break
                assert event == "line" and ident == str(data["id"])
                received.append(data)
                if len(received) == LINES:  # every line of the burst came while the job still runs
                    status_when_all_printed = admin.get(f"/api/v1/runs/{run['id']}").json()["status"]
                    go_on.touch()
        assert status_when_all_printed == "running"
        assert end == {"status": "success", "reason": None}
        chatty = [d["line"] for d in received if d["job"] == "build.unit.chatty"]
        assert chatty == [f"line {i}" for i in range(1, LINES + 1)] + ["after the pause"]
        assert [d["line"] for d in received if d["job"] == "build.unit.quiet"] == ["one", "two"]
        assert received[-3]["stream"] == "stderr"
        ids = [d["id"] for d in received]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_sse_of_one_job_resumes_after_last_event_id_and_ends_for_a_finished_run(
    start_server: Callable[..., LiveServer], admin_token: str
) -> None:
    live = start_server("local")
    with live.client(admin_token) as admin:
        run = start(admin, printer_flow(lines=50))
        wait_for_run(admin, run["id"])
        url = f"/api/v1/runs/{run['id']}/logs/stream"
        with admin.stream("GET", url, params={"job": "build.unit.quiet"}) as response:
            events = list(sse(response))
        assert [(e, d.get("line")) for e, _, d in events] == [("line", "one"), ("line", "two"), ("end", None)]
        first_id = events[0][1]
        with admin.stream("GET", url, headers={"Last-Event-ID": str(first_id)}) as response:
            resumed = [d["line"] for e, _, d in sse(response) if e == "line"]
        assert resumed == ["two"]
        # A Last-Event-ID that is no line id (past any id, a Unicode digit) is ignored, as SSE
        # says of an id it cannot use: the whole stream, not a 500 or a broken stream.
        for unusable in (b"99999999999999999999999", b"\xb2", b"-1"):  # \xb2: a superscript two
            with admin.stream(
                "GET", url, params={"job": "build.unit.quiet"}, headers={"Last-Event-ID": unusable}
            ) as response:
                assert response.status_code == 200, unusable
                every = [(e, d.get("line")) for e, _, d in sse(response)]
            assert every == [("line", "one"), ("line", "two"), ("end", None)], unusable
        missing = admin.get(url, params={"job": "build.unit.nope"})
        assert missing.status_code == 404 and missing.json()["jobs"] == [
            "build.unit.chatty",
            "build.unit.quiet",
        ]
        bad_job = admin.get(url, params={"job": "bad job!"})
        assert bad_job.status_code == 422 and "query.job" in bad_job.json()["error"]
        assert admin.get("/api/v1/runs/999/logs/stream").status_code == 404


def test_paged_logs(start_server: Callable[..., LiveServer], admin_token: str) -> None:
    live = start_server("local")
    with live.client(admin_token) as admin:
        run = start(admin, printer_flow(lines=2_500))
        wait_for_run(admin, run["id"])
        lines: list[str] = []
        after = 0
        pages = 0
        while True:
            page = admin.get(f"/api/v1/runs/{run['id']}/logs", params={"after": after, "limit": 1000}).json()
            assert page["finished"] is True
            if not page["lines"]:
                break
            pages += 1
            lines += [d["line"] for d in page["lines"]]
            after = page["next"]
        assert pages == 3
        assert lines == [f"line {i}" for i in range(1, 2_501)] + ["after the pause", "one", "two"]
        only = admin.get(f"/api/v1/runs/{run['id']}/logs", params={"job": "build.unit.quiet"}).json()
        assert [d["line"] for d in only["lines"]] == ["one", "two"]
        for params in ({"limit": 0}, {"limit": 100_000}, {"after": -1}, {"job": "x" * 300}):
            answer = admin.get(f"/api/v1/runs/{run['id']}/logs", params=params)
            assert answer.status_code == 422, (params, answer.text)


def test_a_flow_without_commands_for_the_local_executor_fails_plainly(
    start_server: Callable[..., LiveServer], admin_token: str
) -> None:
    live = start_server("local")
    with live.client(admin_token) as admin:
        doc = printer_flow("demo/nocommand/ci")
        del doc["stages"][1]["actions"][0]["jobs"][0]["command"]
        doc["stages"][1]["actions"][0]["jobs"][0]["endpoint"] = "containerops/base:busybox"
        refused = admin.post("/api/v1/flows", content=as_json(doc))  # refused before it is stored
        assert refused.status_code == 422
        assert "has no command; the local executor runs a job's command" in refused.json()["error"]
        assert admin.get("/api/v1/flows").json()["flows"] == []


def test_sse_is_woken_by_the_engine_storing_lines_not_by_its_poll(
    start_server: Callable[..., LiveServer], admin_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the poll made longer than the client waits, lines of a run this server runs still
    arrive: its recorder wakes the stream when it stored them."""
    monkeypatch.setattr(sse_module, "POLL", 600.0)
    live = start_server("local")
    go_on = tmp_path / "go-on"
    with live.client(admin_token, timeout=20) as admin:
        run = start(admin, printer_flow(lines=3, until=go_on))
        got: list[str] = []
        with admin.stream(
            "GET", f"/api/v1/runs/{run['id']}/logs/stream", params={"job": "build.unit.chatty"}
        ) as response:
            for event, _, data in sse(response):
                if event == "end":
                    break
                got.append(data["line"])
                if data["line"] == "line 3":
                    go_on.touch()
                if data["line"] == "after the pause":
                    break
        assert got == ["line 1", "line 2", "line 3", "after the pause"]


def test_sse_page_form_sends_every_line_once_in_order_in_bounded_pages_and_resumes(
    start_server: Callable[..., LiveServer], admin_token: str
) -> None:
    """``batch=page``: ``lines`` events of at most PAGE lines, id the last line's id."""
    live = start_server("local")
    with live.client(admin_token) as admin:
        run = start(admin, printer_flow(lines=2 * PAGE + 499))
        wait_for_run(admin, run["id"])
        url = f"/api/v1/runs/{run['id']}/logs/stream"
        params = {"job": "build.unit.chatty", "batch": "page"}
        with admin.stream("GET", url, params=params) as response:
            events = list(sse(response))
        assert [e for e, _, _ in events] == ["lines", "lines", "lines", "end"]
        pages = [cast(list[dict[str, Any]], d) for e, _, d in events if e == "lines"]
        assert [len(page) for page in pages] == [PAGE, PAGE, 500]
        lines = [line["line"] for page in pages for line in page]
        assert lines == [f"line {i}" for i in range(1, 2 * PAGE + 500)] + ["after the pause"]
        assert [ident for e, ident, _ in events[:3]] == [str(page[-1]["id"]) for page in pages]
        with admin.stream(
            "GET", url, params=params, headers={"Last-Event-ID": events[0][1] or ""}
        ) as response:
            resumed = [cast(list[dict[str, Any]], d) for e, _, d in sse(response) if e == "lines"]
        assert [line["line"] for page in resumed for line in page] == lines[PAGE:]
        # The default form is unchanged: one ``line`` event per line.
        with admin.stream("GET", url, params={"job": "build.unit.quiet"}) as response:
            assert [e for e, _, _ in sse(response)] == ["line", "line", "end"]
