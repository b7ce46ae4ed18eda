"""``--server URL``: ``coops run``, ``coops runs`` and ``coops logs`` through a server's API.

The same commands, the same output, the same exit codes as on this machine; the
flow runs on the server (its executor, its store) and its log lines are
followed live over Server-Sent Events. The token comes from ``--token`` or
``COOPS_TOKEN``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from containerops.cli import render
from containerops.store.rows import JobRow, LogRow, RunRow
from containerops.timestamps import parse as parse_time
from containerops.timestamps import utcnow

# httpx is imported where a server is talked to: most commands never do, and it is a
# tenth of `coops --help`'s start-up.
if TYPE_CHECKING:
    import httpx

EXIT_FAILURE, EXIT_INVALID, EXIT_CANCELLED = 1, 2, 130
LIVE = ("pending", "running", "paused")
#: How often a dropped log stream is picked up again before giving up.
RECONNECTS = 5

#: The options of every command that can work through a server.
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Do this through the server at this URL (coops server), e.g. http://127.0.0.1:8080.",
        rich_help_panel="Server",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="COOPS_TOKEN", help="API token for --server.", rich_help_panel="Server"),
]


class RemoteError(Exception):
    """The server refused, or could not be reached; the message says which and why."""

    def __init__(self, message: str, code: int = EXIT_INVALID, problems: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        #: What the server found wrong with a flow: message, severity, line, column.
        self.problems = problems or []


class Remote:
    """A client of one server, authenticated with one token."""

    def __init__(self, url: str, token: str | None) -> None:
        if not url.startswith(("http://", "https://")):
            raise RemoteError(f"--server {url!r}: give the server's URL, e.g. http://127.0.0.1:8080")
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        # Plain http:// has no certificates to check: not loading the CA bundle saves a
        # tenth of a second or more of every command's start (bench/component_transfer.py).
        self.http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(30, read=60),
            verify=self.url.startswith("https://"),
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, **options: Any) -> Any:
        """The JSON answer, or RemoteError with the server's message (and its problems)."""
        import httpx

        try:
            response = self.http.request(method, path, **options)
        except httpx.HTTPError as error:
            raise RemoteError(f"cannot reach the server at {self.url}: {error}") from None
        if response.status_code >= 400:
            raise RemoteError(_error_text(response), EXIT_INVALID, _problems(response))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # -- runs ------------------------------------------------------------------
    def resolve(self, ref: str) -> int:
        """A run id from ``ID`` or ``FLOW-URI#NUMBER``."""
        ref = ref.strip()
        if ref.isdigit():
            return int(ref)
        uri, sep, number = ref.rpartition("#")
        if not sep or not number.isdigit() or not uri:
            raise RemoteError(f"{ref!r} is not a run: give its id (42) or FLOW-URI#NUMBER (demo/hello/ci#3)")
        found = self.call("GET", "/api/v1/runs", params={"flow": uri, "number": int(number), "limit": 1})
        if not found["runs"]:
            raise RemoteError(f"no run {ref} on {self.url}")
        return int(found["runs"][0]["id"])

    def run(self, run_id: int, *, instances: bool = False) -> dict[str, Any]:
        """The run's document; a matrix's instances listed too with ``instances``."""
        query = "?instances=true" if instances else ""
        document: dict[str, Any] = self.call("GET", f"/api/v1/runs/{run_id}{query}")
        return document

    def log_events(self, run_id: int, job: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
        """``("line", line)`` for every log line, then ``("end", {status, reason})``; reconnects."""
        import httpx

        params: dict[str, Any] = {"job": job} if job else {}
        last = 0
        for attempt in range(RECONNECTS + 1):
            try:
                with self.http.stream(
                    "GET",
                    f"/api/v1/runs/{run_id}/logs/stream",
                    params={**params, "after": last},
                    timeout=httpx.Timeout(30, read=None),
                ) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise RemoteError(_error_text(response))
                    for event, data in _sse(response.iter_lines()):
                        if event == "line":
                            last = max(last, int(data["id"]))
                        yield event, data
                        if event == "end":
                            return
            except httpx.HTTPError as error:
                if attempt == RECONNECTS:
                    raise RemoteError(f"lost the log stream of run {run_id} on {self.url}: {error}") from None
        raise RemoteError(f"the log stream of run {run_id} ended before the run did")


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"the server answered {response.status_code}: {response.text[:200]}"
    message = body.get("error") if isinstance(body, dict) else None
    return str(message or f"the server answered {response.status_code}")


def _problems(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        problems = response.json().get("problems")
    except (ValueError, AttributeError):
        return []
    return [p for p in problems if isinstance(p, dict)] if isinstance(problems, list) else []


def _sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse Server-Sent Events: (event name, JSON data) per event."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)


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
                raise RemoteError(_error_text(response), EXIT_INVALID, _problems(response))
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


def fail(error: RemoteError) -> NoReturn:
    Console(stderr=True).print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    raise SystemExit(error.code)
