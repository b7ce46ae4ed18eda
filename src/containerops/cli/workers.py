"""``coops worker`` (claim and run ready jobs) and ``coops workers list``."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from containerops.cli.remote import Remote, RemoteError, ServerOption, TokenOption
from containerops.executors import EXECUTORS

EXIT_INVALID = 2
err = Console(stderr=True)
out = Console(highlight=False)

workers_app = typer.Typer(help="The workers that run jobs for servers: list them.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(EXIT_INVALID)


def parse_labels(text: str) -> dict[str, str]:
    """``gpu=true,zone=a`` as a mapping; ValueError saying which part is wrong."""
    labels: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, equals, value = part.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"--labels: {part!r} is not KEY=VALUE")
        labels[key.strip()] = value.strip()
    return labels


def worker(
    executor: Annotated[
        str, typer.Option("--executor", "-e", envvar="COOPS_WORKER_EXECUTOR", help=f"{', '.join(EXECUTORS)}.")
    ] = "docker",
    slots: Annotated[int, typer.Option(min=1, help="Jobs this worker runs at once.")] = 1,
    labels: Annotated[
        str, typer.Option(help="What this worker offers, KEY=VALUE,...: jobs with labels: need all theirs.")
    ] = "",
    name: Annotated[
        str | None, typer.Option(help="Its name among the workers (default: HOST-PID); unique.")
    ] = None,
    network: Annotated[
        str | None, typer.Option(help="Docker network mode for job containers (bridge, host, none...).")
    ] = None,
) -> None:
    """Claim ready jobs from the database (COOPS_DATABASE_URL) and run them, until stopped.

    A server started with --workers N or --external-workers puts its jobs up for workers.
    Each job is leased: the worker renews its leases every second; one killed loses its
    jobs when their leases expire (COOPS_LEASE_SECONDS, 10 s), and their runs retry them.

    Example:  coops worker --executor docker --slots 4 --labels gpu=true
    """
    from containerops.executors import get_executor
    from containerops.executors.base import Executor, ExecutorError
    from containerops.executors.local import LocalExecutor
    from containerops.store import Store
    from containerops.workers import Worker
    from containerops.workers.queue import lease_seconds

    if executor not in EXECUTORS:
        raise _fail(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    try:
        offered = parse_labels(labels)
    except ValueError as error:
        raise _fail(str(error)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    chosen: Executor
    try:
        # a local job dies with its worker: killed with -9, it leaves none writing on
        chosen = (
            LocalExecutor(die_with_parent=True)
            if executor == "local"
            else get_executor(executor, network_mode=network)
        )
    except ExecutorError as error:
        raise _fail(str(error)) from None
    store = Store.open()
    loop_worker = Worker(
        store,
        chosen,
        name=name or f"{socket.gethostname()}-{os.getpid()}",
        labels=offered,
        slots=slots,
        lease=lease_seconds(),
    )

    import asyncio  # here, not at the top: every other command's start-up would load it (~20 ms)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await loop_worker.run(stop)

    try:
        asyncio.run(main())
    finally:
        store.close()


@workers_app.command("list")
def workers_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """The workers not stopped: name, labels, slots, jobs running now, last heartbeat.

    With --server, the server's (a site administrator's token, read scope is enough).
    """
    from containerops.store.workers import labels_text

    if server is not None:
        try:
            with Remote(server, token) as client:
                listed = client.call("GET", "/api/v1/workers")
        except RemoteError as error:
            raise _fail(str(error)) from None
    else:
        from containerops.store import Store
        from containerops.store.workers import list_workers
        from containerops.workers.queue import lease_seconds

        store = Store.open()
        try:
            listed = [row.document() for row in list_workers(store, lease_seconds())]
        finally:
            store.close()
    if as_json:
        sys.stdout.write(json.dumps(listed) + "\n")
        return
    if not listed:
        err.print("no workers")
        return
    table = Table("name", "labels", "slots", "running", "last heartbeat", "executor")
    for row in listed:
        beat = row["heartbeat_at"] + ("" if row["live"] else " (lost)")
        labels = labels_text(row["labels"]) or "-"
        table.add_row(row["name"], labels, str(row["slots"]), str(row["running"]), beat, row["executor"])
    out.print(table)
