"""Searching and downloading logs through the API: one run's (``/runs/{id}/logs?q=``,
``/runs/{id}/logs.txt``) and many runs' (``/api/v1/logs?q=``), each caller seeing only the
runs of namespaces it may read."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from tests.server.conftest import LiveServer

from containerops.store import Store
from containerops.store.accounts import create_org, create_token, create_user

RED, RESET = "\x1b[31m", "\x1b[0m"


def _run_with_lines(store: Store, uri: str, lines: dict[str, list[str]]) -> int:
    """A run of ``uri`` whose jobs printed ``lines`` (stored as a run would store them)."""
    flow_id, version_id, _ = store.save_flow(uri, "x", "yaml")
    new = store.create_run(flow_id, version_id, "dummy", {}, [(path, None) for path in lines])
    recorder = store.recorder(new.id)
    now = datetime.now(UTC)
    for path, texts in lines.items():
        streams = ["stderr" if "fail" in text else "stdout" for text in texts]
        recorder.log_batch(new.job_ids[path], 1, 1, [now] * len(texts), streams, texts)
        recorder.flush()
    recorder.run("success", now, finished_at=now)
    recorder.flush()
    return new.id


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    for name in ("alice", "carol"):
        create_user(store, name)
    create_org(store, "acme", owner="alice")
    return {"alice": create_token(store, "alice", "read"), "carol": create_token(store, "carol", "read")}


def test_one_runs_search_with_context_paging_and_plain_text(
    server: LiveServer, tokens: dict[str, str]
) -> None:
    numbers = [f"line {n}" for n in range(1, 2001)]
    numbers[999] = f"{RED}panic{RESET}: data race"
    run_id = _run_with_lines(
        server.store, "acme/app/ci", {"s.a.one": numbers, "s.a.two": ["ok", "PANIC too"]}
    )
    with server.client(tokens["alice"]) as alice:
        page = alice.get(f"/api/v1/runs/{run_id}/logs", params={"q": "(?i)panic", "context": 1}).json()
        assert [(d["job"], d["line"], d["match"]) for d in page["lines"]] == [
            ("s.a.one", "line 999", False),
            ("s.a.one", f"{RED}panic{RESET}: data race", True),
            ("s.a.one", "line 1001", False),
            ("s.a.two", "ok", False),
            ("s.a.two", "PANIC too", True),
        ]
        assert page["next"] is None and page["finished"] is True
        plain = alice.get(f"/api/v1/runs/{run_id}/logs", params={"q": "data race", "plain": True}).json()
        assert [d["line"] for d in plain["lines"]] == ["panic: data race"]
        one = alice.get(f"/api/v1/runs/{run_id}/logs", params={"q": "line 1", "limit": 5}).json()
        assert [d["line"] for d in one["lines"]] == ["line 1", "line 10", "line 11", "line 12", "line 13"]
        rest = alice.get(f"/api/v1/runs/{run_id}/logs", params={"q": "^line 1", "after": one["next"]}).json()
        assert rest["lines"][0]["line"] == "line 14"
        job = alice.get(f"/api/v1/runs/{run_id}/logs", params={"q": "(?i)panic", "job": "s.a.two"}).json()
        assert [d["line"] for d in job["lines"]] == ["PANIC too"]
        bad = alice.get(f"/api/v1/runs/{run_id}/logs", params={"q": "(unclosed"})
        assert bad.status_code == 400 and "missing )" in bad.json()["error"]
        assert alice.get(f"/api/v1/runs/{run_id}/logs", params={"q": "x", "context": 101}).status_code == 422


def test_a_runs_whole_log_downloads_as_text(server: LiveServer, tokens: dict[str, str]) -> None:
    run_id = _run_with_lines(
        server.store, "acme/app/ci", {"s.a.one": [f"{RED}red{RESET}", "it failed"], "s.a.two": ["two"]}
    )
    with server.client(tokens["alice"]) as alice:
        whole = alice.get(f"/api/v1/runs/{run_id}/logs.txt")
        assert whole.status_code == 200 and whole.headers["content-type"].startswith("text/plain")
        assert whole.text == f"[s.a.one] {RED}red{RESET}\n[s.a.one] ! it failed\n[s.a.two] two\n"
        assert f'run-{run_id}.log"' in whole.headers["content-disposition"]
        one = alice.get(f"/api/v1/runs/{run_id}/logs.txt", params={"job": "s.a.one", "plain": True})
        assert one.text == "red\n! it failed\n"
        assert alice.get(f"/api/v1/runs/{run_id}/logs.txt", params={"job": "s.a.nope"}).status_code == 404
    with server.client(tokens["carol"]) as carol:  # another namespace's run: as if it did not exist
        assert carol.get(f"/api/v1/runs/{run_id}/logs.txt").status_code == 404
        assert carol.get(f"/api/v1/runs/{run_id}/logs", params={"q": "red"}).status_code == 404


def test_searching_many_runs_sees_only_the_callers_namespaces(
    server: LiveServer, tokens: dict[str, str]
) -> None:
    first = _run_with_lines(server.store, "acme/app/ci", {"s.a.j": ["boom 1", "fine"]})
    second = _run_with_lines(server.store, "acme/app/ci", {"s.a.j": ["fine", "boom 2"]})
    other = _run_with_lines(server.store, "acme/web/ci", {"s.a.j": ["boom 3"]})
    _run_with_lines(server.store, "carol/site/build", {"s.a.j": ["boom secret"]})
    with server.client(tokens["alice"]) as alice, server.client(tokens["carol"]) as carol:
        found = alice.get("/api/v1/logs", params={"q": "boom"}).json()
        assert [(d["run"], d["flow"], d["line"]) for d in found["lines"]] == [
            (other, "acme/web/ci", "boom 3"),
            (second, "acme/app/ci", "boom 2"),
            (first, "acme/app/ci", "boom 1"),
        ]
        assert found["complete"] is True and found["runs_searched"] == 3
        of_flow = alice.get("/api/v1/logs", params={"q": "boom", "flow": "acme/app/ci", "runs": 1}).json()
        assert [d["line"] for d in of_flow["lines"]] == ["boom 2"] and of_flow["runs_searched"] == 1
        cut = alice.get("/api/v1/logs", params={"q": "boom", "limit": 2}).json()
        assert len(cut["lines"]) == 2 and cut["complete"] is False
        assert alice.get("/api/v1/logs", params={"q": "boom", "flow": "carol/site/build"}).status_code == 404
        assert [d["line"] for d in carol.get("/api/v1/logs", params={"q": "boom"}).json()["lines"]] == [
            "boom secret"
        ]
        assert alice.get("/api/v1/logs", params={"q": "("}).status_code == 400
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/api/v1/logs", params={"q": "boom"}).status_code == 401
