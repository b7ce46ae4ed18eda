"""``--server URL``: ``coops run``, ``coops runs`` and ``coops logs`` through a server's API.

The same commands, the same output, the same exit codes as on this machine; the
flow runs on the server (its executor, its store) and its log lines are
followed live over Server-Sent Events.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from containerops.cli import render
from containerops.cli.remote import (
    EXIT_CANCELLED,
    EXIT_FAILURE,
    EXIT_INVALID,
    Remote,
    RemoteError,
    error_text,
    problems_of,
)
from containerops.store.rows import JobRow, LogRow, RunRow
from containerops.timestamps import parse as parse_time
from containerops.timestamps import utcnow


def _time(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


def run_row(document: dict[str, Any]) -> RunRow:
    """A run's JSON (``coops runs show --json``) as the row the local commands print."""
    return RunRow(
        id=document["id"],
        uri=document["uri"],
        number=document["number"],
        uid="",
        flow_version=document["flow_version"],
        status=document["status"],
        reason=document.get("reason"),
        executor=document["executor"],
        params={},
        created_at=_time(document["created_at"]) or utcnow(),
        started_at=_time(document.get("started_at")),
        finished_at=_time(document.get("finished_at")),
        jobs=[
            JobRow(
                id=0,
                path=job["path"],
                position=position,
                image=job.get("image"),
                status=job["status"],
                reason=job.get("reason"),
                exit_code=job.get("exit_code"),
                attempts=job["attempts"],
                outputs=job.get("outputs") or {},
                started_at=_time(job.get("started_at")),
                finished_at=_time(job.get("finished_at")),
            )
            for position, job in enumerate(document.get("jobs", []))
        ],
    )


def exit_code(status: str) -> int:
    if status == "success":
        return 0
    return EXIT_CANCELLED if status == "cancelled" else EXIT_FAILURE


# -- commands -------------------------------------------------------------------------
def run_file(remote: Remote, file: Path, sets: dict[str, str], *, as_json: bool) -> int:
    """``coops run --server``: send the flow, start it, follow its logs; the run's exit code."""
    err = Console(stderr=True)
    try:
        body = file.read_bytes()
    except OSError as error:
        raise RemoteError(f"{file}: cannot read the flow file: {error.strerror or error}") from None
    try:
        saved = remote.call("POST", "/api/v1/flows", content=body)
    except RemoteError as error:
        _print_problems(file, error.problems, err)
        raise RemoteError(f"{file}: {error}; nothing was started", error.code) from None
    started = remote.call(
        "POST", "/api/v1/runs", json={"flow": saved["uri"], "version": saved["version"], "set": sets}
    )
    run_id = int(started["id"])
    err.print(
        f"[bold]{escape(saved['uri'])} #{started['number']}[/] (run {run_id} on {escape(remote.url)})",
        highlight=False,
    )
    out = sys.stderr if as_json else sys.stdout
    try:
        follow(remote, run_id, None, out, timestamps=False)
    except KeyboardInterrupt:
        remote.call("POST", f"/api/v1/runs/{run_id}/cancel")
        err.print(f"cancelled run {run_id}")
    document = remote.run(run_id)
    if as_json:
        sys.stdout.write(json.dumps(document) + "\n")
    else:
        row = run_row(document)
        Console().print(render.run_detail(row), highlight=False)
    return exit_code(document["status"])


def _print_problems(file: Path, problems: list[dict[str, Any]], err: Console) -> None:
    """Every problem the server found, as file:line:column like ``coops validate`` prints them."""
    for problem in problems:
        line, column = problem.get("line"), problem.get("column")
        place = str(file) + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        severity = str(problem.get("severity", "error"))
        style = "red" if severity == "error" else "yellow"
        err.print(
            f"[{style}]{escape(place)}: {severity}: {escape(str(problem.get('message')))}[/]", highlight=False
        )


def _log_line(data: dict[str, Any], job: str | None, timestamps: bool) -> str:
    """A line of the API (paged or streamed) as ``coops logs`` prints it."""
    at = parse_time(data["at"])
    return render.log_line(
        data["job"],
        data["attempt"],
        data["stream"],
        at,
        data["line"],
        with_job=job is None,
        timestamps=timestamps,
    )


def follow(remote: Remote, run_id: int, job: str | None, out: Any, *, timestamps: bool) -> dict[str, Any]:
    """Print the run's (or job's) lines as they come until the run ends; the end event."""
    for event, data in remote.log_events(run_id, job):
        if event == "end":
            out.flush()
            return data
        if event == "line":
            out.write(_log_line(data, job, timestamps))
        elif event == "waiting":  # for its concurrency group: said as a local coops run says it
            Console(stderr=True).print(f"[bold yellow]⧗ run {run_id} is {escape(str(data['reason']))}[/]")
    return {}


def logs(
    remote: Remote,
    ref: str,
    job: str | None,
    *,
    follow_live: bool,
    timestamps: bool,
    out: Any = None,
    grep: str | None = None,
    context: int = 0,
    download: Path | None = None,
    plain: bool = False,
) -> None:
    run_id = remote.resolve(ref)
    out = out or sys.stdout
    if download is not None:
        _download(remote, run_id, job, download, plain=plain)
        return
    if grep is not None:
        _grep(remote, run_id, job, out, grep, context=context, timestamps=timestamps)
        return
    if follow_live:
        follow(remote, run_id, job, out, timestamps=timestamps)
        return
    after = 0
    while True:
        params: dict[str, Any] = {"after": after, "limit": 5000}
        if job:
            params["job"] = job
        page = remote.call("GET", f"/api/v1/runs/{run_id}/logs", params=params)
        for data in page["lines"]:
            out.write(_log_line(data, job, timestamps))
        if not page["lines"]:
            return
        after = page["next"]


def _grep(
    remote: Remote, run_id: int, job: str | None, out: Any, pattern: str, *, context: int, timestamps: bool
) -> None:
    """The server's search of the run, page by page, printed as a local --grep prints."""
    # Lazily, for the CLI's start-up: these load RE2 and zstd, which other commands never use.
    from containerops.cli import logs as logs_cli
    from containerops.store.logsearch import Found

    after: int | None = 0
    last: list[Any] = []
    while after is not None:
        params: dict[str, Any] = {"q": pattern, "context": context, "after": after, "limit": 5000}
        if job:
            params["job"] = job
        page = remote.call("GET", f"/api/v1/runs/{run_id}/logs", params=params)
        found = [
            Found(
                LogRow(
                    d["id"], d["job"], d["attempt"], d["seq"], parse_time(d["at"]), d["stream"], d["line"]
                ),
                d["match"],
            )
            for d in page["lines"]
        ]
        out.write(
            logs_cli.matches_text(
                found, with_job=job is None, timestamps=timestamps, context=context, last=last
            )
        )
        after = page["next"]


def _download(remote: Remote, run_id: int, job: str | None, target: Path, *, plain: bool) -> None:
    """``logs.txt`` streamed into ``target``, never whole in memory."""
    import httpx

    params: dict[str, Any] = {"plain": plain}
    if job:
        params["job"] = job
    try:
        with remote.http.stream("GET", f"/api/v1/runs/{run_id}/logs.txt", params=params) as response:
            if response.status_code >= 400:
                response.read()
                raise RemoteError(error_text(response), EXIT_INVALID, problems_of(response))
            with target.open("wb") as file:
                for chunk in response.iter_bytes():
                    file.write(chunk)
    except httpx.HTTPError as error:
        raise RemoteError(f"cannot reach the server at {remote.url}: {error}") from None


def runs_list(remote: Remote, flow: str | None, status: str | None, limit: int, *, as_json: bool) -> None:
    params: dict[str, Any] = {"limit": limit}
    if flow:
        params["flow"] = flow
    if status:
        params["status"] = status
    found = remote.call("GET", "/api/v1/runs", params=params)["runs"]
    if as_json:
        sys.stdout.write(json.dumps(found) + "\n")
        return
    Console().print(render.runs_table([run_row(document) for document in found]))


def runs_show(
    remote: Remote, ref: str, *, as_json: bool, flow_source: bool = False, instances: bool = False
) -> None:
    document = remote.run(remote.resolve(ref), instances=True)
    if flow_source:  # the version the run ran, exactly as it was sent
        uri, version = document["uri"], document["flow_version"]
        sys.stdout.write(remote.call("GET", f"/api/v1/flows/{uri}/versions/{version}")["source"])
        return
    if as_json:
        sys.stdout.write(json.dumps(document) + "\n")
        return
    Console().print(render.run_detail(run_row(document), instances=instances), highlight=False)


def cancel(remote: Remote, ref: str) -> None:
    run_id = remote.resolve(ref)
    remote.call("POST", f"/api/v1/runs/{run_id}/cancel")
    Console(stderr=True).print(f"run {run_id}: cancelled", highlight=False)
