"""``coops runs approve|reject``: the decision a paused run waits for, on the local store.

The engine that waits (a ``coops run`` in another terminal, or the server) sees
the decision within half a second; the first decision wins and later ones are
refused.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from containerops.cli.remote import Remote, RemoteError, ServerOption, TokenOption
from containerops.engine.state import JobState, RunState
from containerops.store import StoreError

err = Console(stderr=True)

RunArgument = Annotated[str, typer.Argument(metavar="RUN", help="A run id, or FLOW-URI#NUMBER.")]
CommentOption = Annotated[
    str | None, typer.Option("--comment", "-m", help="Why: kept with the decision in the run's history.")
]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who decides (default: your login name on this machine).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the recorded decision as JSON.")]


def _decide_remotely(
    server: str, token: str | None, run_ref: str, approved: bool, comment: str | None
) -> Any:
    """The decision through the server's API: the server records who (the token's user)."""
    verb = "approve" if approved else "reject"
    try:
        with Remote(server, token) as remote:
            run_id = remote.resolve(run_ref)
            return remote.call("POST", f"/api/v1/runs/{run_id}/{verb}", json={"comment": comment})
    except RemoteError as error:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(error.code) from None


def _decide(
    run_ref: str,
    approved: bool,
    comment: str | None,
    by: str | None,
    as_json: bool,
    server: str | None = None,
    token: str | None = None,
) -> None:
    if server:
        if by:
            err.print("[bold red]error:[/] --by is for the local store; the server records the token's user")
            raise typer.Exit(2)
        answer = _decide_remotely(server, token, run_ref, approved, comment)
    else:
        answer = _decide_locally(run_ref, approved, comment, by)
    if as_json:
        sys.stdout.write(json.dumps(answer) + "\n")
        return
    verb = "approved" if approved else "rejected"
    pause = answer["pause"]
    err.print(
        f"run {answer['id']}: stage {escape(pause['stage'])} {verb} by {escape(pause['decided_by'] or '')}"
    )


def _decide_locally(run_ref: str, approved: bool, comment: str | None, by: str | None) -> dict[str, Any]:
    from containerops.engine.decisions import decide  # when used: it loads the store
    from containerops.store import Store
    from containerops.store.pauses import DecisionError
    from containerops.store.runs import resolve_run

    store = Store.open()
    try:
        run_id = resolve_run(store, run_ref)
        pause = decide(store, run_id, approved, by or getpass.getuser(), comment)
    except (DecisionError, StoreError) as error:
        err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    return {"id": run_id, "pause": pause.to_json()}


HELP = {
    "approve": "Let a paused run go on past the pause stage it waits at.\n\n"
    'Example: coops runs approve 812 --comment "checked the staging deploy"',
    "reject": "Stop a paused run at its pause stage: the run fails, with your reason.\n\n"
    'Example: coops runs reject 812 --comment "wrong version"',
}


def _command(approved: bool) -> Callable[..., None]:
    def command(
        run_ref: RunArgument,
        comment: CommentOption = None,
        by: ByOption = None,
        as_json: JsonOption = False,
        server: ServerOption = None,
        token: TokenOption = None,
    ) -> None:
        _decide(run_ref, approved, comment, by, as_json, server, token)

    return command


def register(runs_app: typer.Typer) -> None:
    for verb, help_text in HELP.items():
        runs_app.command(verb, help=help_text)(_command(verb == "approve"))


def announce_pauses(console: Console) -> Callable[[RunState, JobState | None], None]:
    """An ``on_change`` hook that says, once per pause, how to approve or reject the run;
    and what it waits for while its ``concurrency:`` group is held by another run."""
    said: set[str | None] = set()

    def on_change(state: RunState, js: JobState | None) -> None:
        if js is None and state.status == "pending" and state.reason and state.reason not in said:
            said.add(state.reason)
            console.print(f"[bold yellow]⧗ run {state.id} is {escape(state.reason)}[/]", highlight=False)
        if js is None and state.status == "paused" and state.reason not in said:
            said.add(state.reason)
            console.print(
                f"[bold blue]⏸ run {state.id} is paused[/] ({escape(state.reason or '')}): "
                f"approve with [bold]coops runs approve {state.id}[/], or reject with "
                f"[bold]coops runs reject {state.id} --comment WHY[/]",
                highlight=False,
            )

    return on_change
