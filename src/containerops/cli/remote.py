"""``--server URL``: the client of a server's API that every remote command shares.

The token comes from ``--token`` or ``COOPS_TOKEN``. What ``coops run``, ``coops runs``
and ``coops logs`` do with it is in ``remote_runs`` (the run tables and trees: the engine's
states and Rich's trees, which the component commands never load).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from containerops.cli.consoles import err, escape

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
            raise RemoteError(error_text(response), EXIT_INVALID, problems_of(response))
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
                        raise RemoteError(error_text(response))
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


def error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"the server answered {response.status_code}: {response.text[:200]}"
    message = body.get("error") if isinstance(body, dict) else None
    return str(message or f"the server answered {response.status_code}")


def problems_of(response: httpx.Response) -> list[dict[str, Any]]:
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


def fail(error: RemoteError) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    raise SystemExit(error.code)
