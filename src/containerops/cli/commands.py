"""Every ``coops`` command: run, validate and inspect ContainerOps flows, and the groups.

``main`` loads this module for any call but one naming ``component`` or ``registry``
(``component_main``). Exit codes: 0 success, 1 the flow failed, 2 invalid input, 130 cancelled.
"""

from __future__ import annotations

import gc
import getpass
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape

from containerops.cli import accounts, remote_runs, render, schema
from containerops.cli import decisions as decision_cli
from containerops.cli import remote as remote_api
from containerops.cli.component import component_app
from containerops.cli.repository import registry_app
from containerops.cli.root import root_app
from containerops.cli.visibility import refusals as _refusals  # noqa: F401  (its commands join the groups)
from containerops.cli.workers import worker as worker_command
from containerops.cli.workers import workers_app
from containerops.engine.state import JobState, RunState
from containerops.executors import EXECUTORS
from containerops.executors.base import ExecutorError
from containerops.model.diagnostics import Diagnostic, FlowInvalid
from containerops.model.names import ENV_NAME
from containerops.server.config import DEFAULT_MAX_RUNS
from containerops.store import StoreError
from containerops.timestamps import json_default

# The store, the engine and the flow model are imported by the commands that use them,
# not here: `coops --help` and `coops validate` start without SQLAlchemy, the Docker SDK
# and the engine (bench/cli_startup.py measures it).
if TYPE_CHECKING:
    from containerops.engine.runner import Engine
    from containerops.model.loader import LoadResult
    from containerops.repository.usage import Resolution
    from containerops.store import Store

EXIT_FAILURE, EXIT_INVALID, EXIT_CANCELLED = 1, 2, 130

app = root_app()
runs_app = typer.Typer(help="List and inspect past and current runs.", no_args_is_help=True)
images_app = typer.Typer(
    help="Build the base images components start from, and the server image.", no_args_is_help=True
)
app.add_typer(runs_app, name="runs")
app.add_typer(images_app, name="images")
app.add_typer(component_app, name="component")
app.add_typer(registry_app, name="registry")
app.add_typer(workers_app, name="workers")
app.command("worker")(worker_command)
accounts.register(app)  # coops user | org | token | secret
schema.register(app)  # coops schema flow | component


decision_cli.register(runs_app)  # coops runs approve | reject

err = Console(stderr=True)

from containerops.cli.remote import ServerOption, TokenOption  # noqa: E402


def _remotely(server: str, token: str | None, action: Callable[[remote_api.Remote], int | None]) -> None:
    """Run ``action`` against the server; its result is the exit code, refusals exit 2."""
    try:
        with remote_api.Remote(server, token) as client:
            code = action(client)
    except remote_api.RemoteError as error:
        raise _fail(str(error), error.code) from None
    if code:
        raise typer.Exit(code)


def _fail(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        style = "red" if diagnostic.severity == "error" else "yellow"
        err.print(f"[{style}]{escape(str(diagnostic))}[/]", highlight=False)


def _load(file: Path, *, as_json: bool = False) -> LoadResult:
    from containerops.model.loader import load_flow

    try:
        result = load_flow(file)
    except FlowInvalid as invalid:
        if as_json:  # a script reads the problems as it reads a run: one JSON document
            problems = [d.to_json() for d in invalid.diagnostics]
            sys.stdout.write(json.dumps({"file": str(file), "valid": False, "diagnostics": problems}) + "\n")
        _print_diagnostics(invalid.diagnostics)
        errors = sum(1 for d in invalid.diagnostics if d.severity == "error")
        raise _fail(f"{file}: {errors} problem{'s' if errors != 1 else ''}; nothing was started") from None
    _print_diagnostics(result.warnings)
    return result


def _parse_sets(values: list[str]) -> dict[str, str]:
    sets: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not ENV_NAME.fullmatch(key):
            raise _fail(
                f"--set {value!r}: expected NAME=VALUE with NAME a variable name (letters, digits, _)"
            )
        sets[key] = rest
    return sets


# -- run -----------------------------------------------------------------------
def _collect_less() -> None:
    """Tune the garbage collector for a process that streams log lines.

    A chatty job's lines (a million objects and more, in batches of thousands) made
    Python's cyclic collector a sixth of ``coops run``'s time and a third of
    ``coops logs``'. What the process loaded so far lives as long as it does: frozen,
    no full collection walks it again; and a young generation of 20,000 objects
    instead of 700 collects a batch once, not dozens of times. Lines hold no cycles.
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


@app.command()
def run(
    file: Annotated[
        Path, typer.Argument(help="The flow: YAML or JSON, ours or the original pilotage format.")
    ],
    executor: Annotated[
        str, typer.Option("--executor", "-e", help=f"Where jobs run: {', '.join(EXECUTORS)}.")
    ] = "docker",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document with the run and every job at the end.")
    ] = False,
    sets: Annotated[
        list[str] | None,
        typer.Option("--set", help="Set (or override) a flow environment variable: NAME=VALUE. Repeatable."),
    ] = None,
    network: Annotated[
        str | None,
        typer.Option(help="Docker network mode for job containers (bridge, host, none...)."),
    ] = None,
    keep_workspace: Annotated[
        bool,
        typer.Option(
            "--keep-workspace",
            help="Keep the workspace the run's jobs share (/workspace, CO_WORKSPACE) and say where it is.",
        ),
    ] = False,
    secret: Annotated[
        list[str] | None,
        typer.Option(
            "--secret",
            help="A value for ${{ secrets.NAME }}: NAME=VALUE, or NAME to take the environment "
            "variable NAME. Repeatable. Also read: the namespace's secrets (coops secret set).",
        ),
    ] = None,
    secrets_file: Annotated[
        Path | None, typer.Option(help="NAME=VALUE lines for ${{ secrets.NAME }}; '#' starts a comment.")
    ] = None,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Run a flow now, on this machine, and show its progress live.

    Jobs may name a component of the repository (`component: library/shell:1`):
    it is resolved to its image digest, and its inputs checked against its spec,
    before anything starts. The jobs of a run share a workspace (a Docker volume
    at /workspace, or a temporary folder with the local executor), removed at
    the end unless --keep-workspace.

    Examples:

      coops run examples/demo.yaml

      coops run flow.yaml --executor local --set GREETING=hello --json

      coops run flow.yaml --server http://127.0.0.1:8080   (runs on the server, follows its logs)
    """
    if server:
        if secret or secrets_file:
            raise _fail("a server run takes its namespace's secrets (coops secret set), not --secret")
        overrides = _parse_sets(sets or [])
        _remotely(
            server, token, lambda client: remote_runs.run_file(client, file, overrides, as_json=as_json)
        )
        return
    from containerops.cli.run_secrets import SecretsInputError, local_secret_values
    from containerops.engine.runner import Engine
    from containerops.engine.secrets import MissingSecret
    from containerops.executors import get_executor
    from containerops.launch import prepare_run
    from containerops.model.validate import check_runnable_locally
    from containerops.store import Store

    if executor not in EXECUTORS:
        raise _fail(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    loaded = _load(file, as_json=as_json)
    problems = check_runnable_locally(loaded.flow, str(file), executor)
    if problems:
        _print_diagnostics(problems)
        raise _fail(f"{file}: cannot run here; nothing was started")
    overrides = _parse_sets(sets or [])
    try:
        chosen = get_executor(executor, network_mode=network, registry=_swarm_registry(executor))
    except ExecutorError as error:
        raise _fail(str(error)) from None
    store = Store.open()
    engine = Engine(store, chosen, keep_workspace=keep_workspace)
    resolution = _resolve_components(store, loaded, file, executor)
    try:
        values = local_secret_values(store, loaded.flow, secret or [], secrets_file, overrides)
        state = prepare_run(
            engine,
            loaded.flow,
            source=loaded.source,
            fmt=loaded.format,
            components=resolution,
            params={"set": overrides},
            secret_values=values,
        ).state
    except (MissingSecret, SecretsInputError, StoreError) as error:
        store.close()
        raise _fail(str(error)) from None
    console = err if as_json else Console()
    _collect_less()
    import asyncio  # here: only a run needs it (see the imports above)

    final = asyncio.run(_run_live(engine, state, console))
    if as_json:  # what the store holds, so a script reads exactly what was recorded
        sys.stdout.write(json.dumps(store.get_run(final.id).to_json()) + "\n")
    else:
        console.print(render.summary(final), highlight=False)
    if final.workspace:
        err.print(f"workspace kept: {escape(final.workspace)}", highlight=False, soft_wrap=True)
    store.close()
    if final.status == "success":
        return
    raise typer.Exit(EXIT_CANCELLED if final.status == "cancelled" else EXIT_FAILURE)


def _resolve_components(store: Store, loaded: LoadResult, file: Path, executor: str) -> Resolution | None:
    """Resolve the flow's components and, for Docker, have their images; exit 2 if that fails."""
    from containerops.launch import ComponentImagesUnavailable, have_component_images, resolve_flow_components

    try:
        resolution = resolve_flow_components(store, loaded.flow, filename=str(file))
    except FlowInvalid as invalid:
        _print_diagnostics(invalid.diagnostics)
        raise _fail(
            f"{file}: {len(invalid.errors)} problem(s) with its components; nothing was started"
        ) from None
    if resolution is None:
        return None
    _print_diagnostics(resolution.warnings)  # a deprecated version: said, and run
    try:
        have_component_images(
            resolution,
            executor,
            lambda line: err.print(f"[dim]{escape(line)}[/]", highlight=False, soft_wrap=True),
        )
    except ComponentImagesUnavailable as error:
        raise _fail(f"{error}; nothing was started") from None
    return resolution


def _swarm_registry(executor: str) -> str | None:
    """For the swarm executor: the component registry, where its nodes pull images from."""
    if executor != "swarm":
        return None
    from containerops.repository.registry import registry_address

    return registry_address()


async def _run_live(engine: Engine, state: RunState, console: Console) -> RunState:
    import asyncio

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, engine.cancel, f"cancelled by {signal.Signals(signum).name}")
    announce = decision_cli.announce_pauses(console)
    if console.is_terminal:
        engine.on_change = announce
        with Live(get_renderable=lambda: render.run_tree(state), console=console, refresh_per_second=8):
            return await engine.run()

    def on_change(state: RunState, js: JobState | None) -> None:
        announce(state, js)
        if js is not None:
            render.change_line(console.file, js)

    console.print(f"[bold]{escape(state.flow.uri)} #{state.number}[/] (run {state.id})", highlight=False)
    engine.on_change = on_change
    final = await engine.run()
    console.print(render.run_tree(final))
    return final


# -- validate --------------------------------------------------------------------
@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="One or more flow files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the diagnostics as JSON.")] = False,
    show_plan: Annotated[
        bool,
        typer.Option("--plan", help="Also show what would run when: steps, and lanes that run together."),
    ] = False,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            "-e",
            help="Check too what `coops run --executor NAME` needs, as errors. Without it, what the "
            "docker executor would refuse is a warning.",
        ),
    ] = None,
) -> None:
    """Check flows without running anything: every problem, with file:line:column.

    The same checks as `coops run`: the flow itself, its components (resolved in the
    repository, inputs checked against their specs), and what the executor needs.
    Exits 2 when any file is invalid. Warnings (such as an unsupported `kubectl`
    key in the original files) do not make a file invalid.
    """
    from containerops.engine.plan import plan
    from containerops.model.loader import load_flow

    if executor is not None and executor not in EXECUTORS:
        raise _fail(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    report: list[dict[str, Any]] = []
    invalid = 0
    for file in files:
        try:
            result = load_flow(file)
            problems = _runnable(result, file, executor)
        except FlowInvalid as error:
            invalid += 1
            diagnostics = error.diagnostics
            ok = False
        else:
            diagnostics = result.warnings + problems
            ok = not any(d.is_error for d in problems)
            invalid += not ok
        entry: dict[str, Any] = {
            "file": str(file),
            "valid": ok,
            "diagnostics": [d.to_json() for d in diagnostics],
        }
        if ok and show_plan:
            entry["plan"] = plan(result.flow).describe()
        report.append(entry)
        if as_json:
            continue
        _print_diagnostics(diagnostics)
        if ok:
            flow = result.flow
            err.print(
                f"[green]✔[/] {escape(str(file))}: valid ({flow.uri}, {len(flow.stages)} stages, "
                f"{len(flow.jobs())} jobs)",
                highlight=False,
            )
            if show_plan:
                for line in entry.get("plan", []):
                    err.print(f"    {escape(line)}", highlight=False)
        else:
            err.print(f"[red]✘[/] {escape(str(file))}: invalid", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    if invalid:
        raise typer.Exit(EXIT_INVALID)


def _runnable(loaded: LoadResult, file: Path, executor: str | None) -> list[Diagnostic]:
    """What `coops run` would refuse in a valid flow: its components (resolved in this
    machine's repository; FlowInvalid) and what the executor needs (warnings unless one
    was named)."""
    import dataclasses

    from containerops.model.validate import check_runnable_locally

    problems = check_runnable_locally(loaded.flow, str(file), executor or "docker")
    if executor is None:
        problems = [
            dataclasses.replace(d, severity="warning", message=f"{d.message} (coops run refuses it)")
            for d in problems
        ]
    if loaded.flow.uses_components():
        from containerops.repository.usage import resolve_components
        from containerops.store import Store

        store = Store.open()
        try:
            problems = [*problems, *resolve_components(store, loaded.flow, filename=str(file)).warnings]
        finally:
            store.close()
    return problems


# -- runs --------------------------------------------------------------------------
def _open_run(store: Store, ref: str) -> int:
    from containerops.store.runs import resolve_run  # when used: it loads SQLAlchemy

    try:
        return resolve_run(store, ref)
    except StoreError as error:
        raise _fail(str(error)) from None


@runs_app.command("list")
def runs_list(
    flow: Annotated[str | None, typer.Option("--flow", help="Only runs of this flow URI.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs in this state (success, failure...).")] = None,
    limit: Annotated[int, typer.Option(help="How many of the newest runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    component_tests: Annotated[
        bool,
        typer.Option(
            "--component-tests",
            help="Show the runs of `coops component test` too (flows component-test/...).",
        ),
    ] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """The newest runs, newest first (without those of `coops component test` unless asked)."""
    from containerops.component.spec import TEST_NAMESPACE
    from containerops.store import Store

    if server:
        _remotely(
            server, token, lambda client: remote_runs.runs_list(client, flow, status, limit, as_json=as_json)
        )
        return
    store = Store.open()
    hidden = () if component_tests or (flow or "").startswith(f"{TEST_NAMESPACE}/") else (TEST_NAMESPACE,)
    rows = store.list_runs(limit=limit, uri=flow, status=status, hide_namespaces=hidden)
    if as_json:
        sys.stdout.write(json.dumps([row.to_json(with_jobs=False) for row in rows]) + "\n")
        return
    Console().print(render.runs_table(rows))


@runs_app.command("show")
def runs_show(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="A run id, or FLOW-URI#NUMBER.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: the run, its jobs, attempts and history.")
    ] = False,
    flow_source: Annotated[
        bool, typer.Option("--flow", help="Print the flow definition exactly as this run ran it.")
    ] = False,
    instances: Annotated[
        bool, typer.Option("--instances", help="List every instance of a matrix job, not only their counts.")
    ] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """A run: its jobs with states, exit codes, reasons and outputs, and its history.

    A matrix job shows as one line counting its instances by state; --instances lists
    them, and --json always holds every one.
    """
    from containerops.store import Store, runs

    if server:
        _remotely(
            server,
            token,
            lambda client: remote_runs.runs_show(
                client, run_ref, as_json=as_json, flow_source=flow_source, instances=instances
            ),
        )
        return
    store = Store.open()
    run_id = _open_run(store, run_ref)
    if flow_source:
        sys.stdout.write(store.flow_source(run_id))
        return
    row = store.get_run(run_id)
    attempts = runs.attempts(store, run_id)
    if as_json:
        document = row.to_json()
        document["attempts"] = attempts
        document["history"] = runs.state_changes(store, run_id)
        sys.stdout.write(json.dumps(document, default=json_default) + "\n")
        return
    Console().print(render.run_detail(row, instances=instances), highlight=False)


@runs_app.command("cancel")
def runs_cancel(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="A run id, or FLOW-URI#NUMBER.")],
    wait: Annotated[float, typer.Option(help="Seconds to wait for the run to end.")] = 60,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Cancel a run that is still going: its running jobs are stopped, the rest skipped.

    A `coops run` of this machine is asked to stop (as Ctrl-C would); a server's run,
    or one of another machine, through the store (its owner looks every half second);
    a run whose process is gone is settled here (its containers and processes
    removed). With --server, the server's API cancels it.
    """
    if server:
        _remotely(server, token, lambda client: remote_runs.cancel(client, run_ref))
        return
    import signal as signals

    from containerops.engine.abandoned import settle_abandoned_runs
    from containerops.engine.cancelling import ask_to_cancel
    from containerops.store import Store
    from containerops.store.ownership import Ownership, ownership

    store = Store.open()
    try:
        run_id = _open_run(store, run_ref)
        owned: Ownership = ownership(store, run_id)
        if owned.finished:
            raise _fail(f"run {run_ref} has already ended ({owned.status})")
        if not owned.alive:
            settle_abandoned_runs(store, only=run_id, servers=True)
            err.print(f"run {run_id}: its process was gone; stopped what it left and marked it failed")
            return
        if owned.server or owned.pid is None:  # its owner reads the request with its heartbeat
            ask_to_cancel(store, run_id, f"cancelled by {getpass.getuser()} (coops runs cancel)")
        else:
            os.kill(owned.pid, signals.SIGTERM)  # coops run cancels its run on SIGTERM, as on Ctrl-C
        deadline = time.monotonic() + wait
        while not ownership(store, run_id).finished:
            if time.monotonic() > deadline:
                raise _fail(
                    f"run {run_ref} was asked to stop and has not ended after {wait:g} s", EXIT_FAILURE
                )
            time.sleep(0.1)
        err.print(f"run {run_id}: cancelled")
    finally:
        store.close()


# -- logs --------------------------------------------------------------------------
@app.command()
def logs(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="A run id, or FLOW-URI#NUMBER.")],
    job: Annotated[str | None, typer.Option("--job", "-j", help="Only this job: stage.action.job.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the run ends.")
    ] = False,
    timestamps: Annotated[bool, typer.Option("--timestamps", "-t", help="Show each line's time.")] = False,
    tail: Annotated[
        int | None,
        typer.Option("--tail", "-n", min=0, help="Only the last N lines (then new ones with -f)."),
    ] = None,
    grep: Annotated[
        str | None,
        typer.Option("--grep", "-g", metavar="PATTERN", help="Only lines matching this RE2 pattern."),
    ] = None,
    context: Annotated[
        int, typer.Option("--context", "-C", min=0, max=100, help="With --grep: N lines around each match.")
    ] = 0,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="Leave out ANSI escape sequences (colours).")
    ] = False,
    download: Annotated[
        Path | None,
        typer.Option("--download", metavar="FILE", help="Write the whole log to FILE instead."),
    ] = None,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Print the log lines of a run (or of one job), from the store.

    Lines stay after containers are gone. Each line is prefixed with its job
    (and attempt when retried); stderr lines are marked. With --server, the
    lines come from the server (live over Server-Sent Events with -f).
    """
    from containerops.cli import logs as logs_cli  # lazily, as every command's own imports: start-up
    from containerops.store import Store

    if grep is not None and (follow or tail is not None or download is not None):
        raise _fail("--grep searches the whole log: it cannot be used with -f, --tail or --download")
    if download is not None and (follow or tail is not None or timestamps):
        raise _fail("--download writes the whole log: it cannot be used with -f, --tail or -t")
    if context and grep is None:
        raise _fail("--context goes with --grep")
    out: Any = logs_cli.Plain(sys.stdout) if no_color else sys.stdout
    if server:
        if tail is not None:
            raise _fail("--tail reads the local store; it cannot be used with --server")
        _remotely(
            server,
            token,
            lambda client: remote_runs.logs(
                client,
                run_ref,
                job,
                follow_live=follow,
                timestamps=timestamps,
                out=out,
                grep=grep,
                context=context,
                download=download,
                plain=no_color,
            ),
        )
        return
    from containerops.engine.abandoned import settle_abandoned_runs
    from containerops.store.logs import job_paths, log_text_runs, raw_log_lines
    from containerops.store.logsearch import PatternError

    store = Store.open()
    run_id = _open_run(store, run_ref)
    if job is not None and job not in (paths := job_paths(store, run_id)):
        raise _fail(f"run {run_ref} has no job {job!r}; its jobs: {', '.join(paths)}")
    if grep is not None:
        try:
            for text in logs_cli.grep_local(
                store, run_id, grep, job=job, context=context, timestamps=timestamps
            ):
                out.write(text)
        except PatternError as error:
            raise _fail(str(error)) from None
        out.flush()
        return
    if download is not None:
        with download.open("w", encoding="utf-8", errors="replace") as file:
            target: Any = logs_cli.Plain(file) if no_color else file
            for text in logs_cli.download_local(store, run_id, job):
                target.write(text)
        return
    last_id = 0
    _collect_less()
    checked = 0.0
    page = 500_000  # lines a query: a big block written at once, memory still bounded
    while True:
        finished = store.get_run(run_id, with_jobs=False).status not in ("pending", "running", "paused")
        if follow and not finished and time.monotonic() - checked > 1:  # its owner killed with -9?
            checked = time.monotonic()
            finished = bool(settle_abandoned_runs(store, only=run_id))
        while True:
            if timestamps or tail is not None:
                job_ids, rows = raw_log_lines(
                    store,
                    run_id,
                    job_path=job,
                    after_id=last_id,
                    limit=page,
                    tail=tail,
                    with_times=timestamps,
                )
                text = render.log_block(rows, job_ids, with_job=job is None, timestamps=timestamps)
                count = len(rows)
                last_id = rows[-1][0] if rows else last_id
            else:  # the lines of one job and stream in a row come as one text
                job_ids, runs = log_text_runs(store, run_id, job_path=job, after_id=last_id, limit=page)
                text = render.log_runs(runs, job_ids, with_job=job is None)
                count = text.count("\n")
                last_id = runs[-1].last_id if runs else last_id
            if text:  # one write a read: a follower keeps up with a chatty job
                out.write(text)
                out.flush()
            if tail is not None:
                tail = None  # the last lines are out: from now on, what comes after them
                if not count:
                    break
                continue
            if count < page:
                break
        if not follow or finished:
            return
        time.sleep(0.05)


# -- images --------------------------------------------------------------------------
@images_app.command("build-base")
def images_build_base(
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even when the images are up to date.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the raw build output too.")] = False,
) -> None:
    """Build containerops/base:busybox and containerops/base:python locally.

    No image hub is needed: busybox comes from Debian's busybox-static, the
    Python image from an mmdebstrap root filesystem (about a minute the first
    time; instant when up to date).
    """
    from containerops.images.base import build_base_images

    _build_images("the base images", lambda say: build_base_images(force=force, progress=say), verbose)


def _build_images(what: str, build: Callable[[Callable[[str], None]], list[Any]], verbose: bool) -> None:
    """Run ``build`` (given where its progress goes: the raw ``docker build`` output only with
    --verbose) and say what it built; a failure exits saying why."""
    from containerops.images import ImageBuildError

    def progress(message: str) -> None:
        if verbose or not message.startswith("  "):  # two spaces: raw `docker build` output
            err.print(f"[dim]{escape(message)}[/]", highlight=False)

    try:
        built = build(progress)
    except (ImageBuildError, ExecutorError) as error:
        raise _fail(f"building {what} failed: {error}", EXIT_FAILURE) from None
    for image in built:
        state = f"built in {image.seconds:.1f}s" if image.built else "up to date"
        err.print(f"[green]✔[/] {escape(image.tag)}  {state}  {image.size / 2**20:.1f} MiB", highlight=False)


@images_app.command("build-server")
def images_build_server(
    source: Annotated[
        Path | None,
        typer.Option("--source", help="The coops source checkout to install (default: the one running)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when it is up to date.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the raw build output too.")] = False,
) -> None:
    """Build containerops/server:latest, the image the server and workers run from on a
    cluster (deploy/kubernetes): the python base image with coops installed.

    Example:  coops images build-server && docker tag containerops/server:latest REGISTRY/coops/server
    """
    from containerops.images.server import build_server_image

    _build_images(
        "the server image", lambda say: [build_server_image(source, force=force, progress=say)], verbose
    )


@images_app.command("build-postgres")
def images_build_postgres(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when it is up to date.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the raw build output too.")] = False,
) -> None:
    """Build containerops/postgres:15, the database of the swarm stack (deploy/swarm):
    Debian's postgresql package on the python base image.

    Example:  coops images build-postgres && docker tag containerops/postgres:15 REGISTRY/coops/postgres:15
    """
    from containerops.images.postgres import build_postgres_image

    _build_images(
        "the PostgreSQL image", lambda say: [build_postgres_image(force=force, progress=say)], verbose
    )


@images_app.command("build-registry")
def images_build_registry(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when it is up to date.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the raw build output too.")] = False,
) -> None:
    """Build containerops/registry:2, the component registry of the swarm stack
    (deploy/swarm): this machine's Debian docker-registry on the python base image.

    Example:  coops images build-registry && docker tag containerops/registry:2 REG/containerops/registry:2
    """
    from containerops.images.registry import build_registry_image

    _build_images(
        "the registry image", lambda say: [build_registry_image(force=force, progress=say)], verbose
    )


@app.command()
def cleanup() -> None:
    """Remove every container (and run workspace volume) ContainerOps started that is still there.

    Runs remove their containers themselves, even when cancelled; this is for
    what a killed process (kill -9, a crash, a reboot) left behind. Every
    container of ours carries the label containerops.managed=true. Runs whose
    process is gone are settled first (failed, "abandoned", their containers,
    processes and workspace removed); containers of runs a live process (a
    server, another coops run) still runs are left alone.
    """
    from containerops.engine.abandoned import settle_abandoned_runs
    from containerops.executors.docker import cleanup_all
    from containerops.executors.swarm import cleanup_all as cleanup_services
    from containerops.store import Store
    from containerops.store.ownership import live_run_uids

    store = Store.open()
    try:
        settled = settle_abandoned_runs(store)
        live = live_run_uids(store)
        removed = cleanup_all(keep=live)
        services = cleanup_services(keep=live)
    except ExecutorError as error:
        raise _fail(str(error)) from None
    finally:
        store.close()
    if settled:
        runs = ", ".join(map(str, settled))
        err.print(f"settled {len(settled)} abandoned run{'s' if len(settled) != 1 else ''}: {runs}")
    err.print(f"removed {removed} container{'s' if removed != 1 else ''}", highlight=False)
    if services:  # on a swarm manager: the services of runs that are gone
        err.print(f"removed {services} swarm service{'s' if services != 1 else ''}", highlight=False)


def _duration_option(option: str, value: str) -> float:
    """A duration option (30d, 12h, 90m) in seconds; exit 2 saying what is wrong."""
    from containerops.model.quantities import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise _fail(f"{option}: {error}") from None
    if not seconds:
        raise _fail(f"{option}: {value!r} is no length of time (e.g. 30d, 12h)")
    return seconds


@app.command("gc")
def remove_old_logs(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Runs that ended longer ago than this: 30d, 12h, 90m.")
    ],
    flow: Annotated[str | None, typer.Option("--flow", help="Only runs of this flow URI.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
) -> None:
    """Remove the log lines of runs that ended long ago, to free space.

    Runs themselves stay (their jobs, states and history); live runs are never touched.
    Lines go a batch at a time, so runs going on meanwhile do not wait. Prints what was
    found and the size of the store's logs before and after.
    """
    from containerops.store import Store, loggc
    from containerops.timestamps import utcnow

    cutoff = utcnow() - timedelta(seconds=_duration_option("--older-than", older_than))
    store = Store.open()
    try:
        done = loggc.remove_old_logs(store, cutoff, flow=flow, dry_run=dry_run)
    finally:
        store.close()
    verb = "would remove" if dry_run else "removed"
    err.print(
        f"{verb} {done.lines:,} log lines ({done.blocks:,} blocks) of {done.runs:,} runs that ended "
        f"before {cutoff.isoformat(timespec='seconds')}; logs {_size(done.bytes_before)} -> "
        f"{_size(done.bytes_after)}",
        highlight=False,
    )


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 1024:.1f} KiB"


# -- server --------------------------------------------------------------------------
@app.command("server")
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    executor: Annotated[
        str,
        typer.Option(
            "--executor",
            "-e",
            envvar="COOPS_SERVER_EXECUTOR",
            help=f"Where jobs run: {', '.join(EXECUTORS)}.",
        ),
    ] = "docker",
    max_runs: Annotated[
        int,
        typer.Option(
            min=1, envvar="COOPS_SERVER_MAX_RUNS", help="Runs that execute at once; more wait in the queue."
        ),
    ] = DEFAULT_MAX_RUNS,
    network: Annotated[
        str | None,
        typer.Option(
            envvar="COOPS_SERVER_NETWORK",
            help="Docker network mode for job containers (bridge, host, none...).",
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="Log level: critical, error, warning, info, debug.")
    ] = "info",
    log_format: Annotated[
        str,
        typer.Option(
            envvar="COOPS_SERVER_LOG_FORMAT",
            help="text, or json: one JSON object per line (time, level, logger, message) for a collector.",
        ),
    ] = "text",
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            envvar="COOPS_SERVER_WORKERS",
            help="Start this many `coops worker` processes beside the server (on --executor) and "
            "let them run the jobs; 0: jobs run in the server's own process.",
        ),
    ] = 0,
    worker_slots: Annotated[
        int,
        typer.Option(
            min=1, envvar="COOPS_SERVER_WORKER_SLOTS", help="Jobs each of those workers runs at once."
        ),
    ] = 4,
    external_workers: Annotated[
        bool,
        typer.Option(
            "--external-workers",
            envvar="COOPS_SERVER_EXTERNAL_WORKERS",
            help="Put jobs up for `coops worker` processes started elsewhere on the same database.",
        ),
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(
            envvar="COOPS_SERVER_URL",
            help="The URL others reach this server at: service jobs' callback URLs and links in "
            "notifications. Default: http://HOST:PORT (127.0.0.1 when listening on every interface).",
        ),
    ] = None,
    log_retention: Annotated[
        str | None,
        typer.Option(
            envvar="COOPS_SERVER_LOG_RETENTION",
            help="Remove the log lines of runs that ended longer ago than this (e.g. 30d), every hour.",
        ),
    ] = None,
    anonymous_read: Annotated[
        bool,
        typer.Option(
            "--anonymous-read",
            envvar="COOPS_SERVER_ANONYMOUS_READ",
            help="Let anyone without a token read public components: list, search, show (README "
            "and versions), and pull them from the registry run for this server. Private ones "
            "stay invisible; everything else still needs a token. Off by default.",
        ),
    ] = False,
) -> None:
    """Serve the API and run flows for a team, on this machine's store.

    The REST API is under /api/v1 (its OpenAPI document at /openapi.json, browsable
    at /docs); the original pilotage routes under /flow/v1. Every API call needs a
    token (coops token create), except reads of public components with --anonymous-read.
    /healthz and /readyz answer without one; /metrics
    (Prometheus) wants a site administrator's. The runs of a server that was killed go
    on when it starts again: queued ones queue again, running ones run their cut job
    again, paused ones wait again.

    Example:  coops server --port 8080 --executor docker
    """
    if executor not in EXECUTORS:
        raise _fail(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    if log_format not in ("text", "json"):
        raise _fail(f"unknown log format {log_format!r}; choose text or json")
    retention = _duration_option("--log-retention", log_retention) if log_retention else None
    import uvicorn

    from containerops.executors import get_executor
    from containerops.server import create_app
    from containerops.server.log_format import log_config

    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    # Engines (service callbacks) and notifications read it from there (ServerConfig.public_url).
    os.environ["COOPS_SERVER_URL"] = (public_url or f"http://{local}:{port}").rstrip("/")

    try:
        chosen = get_executor(executor, network_mode=network, registry=_swarm_registry(executor))
        application = create_app(
            executor=chosen,
            max_concurrent_runs=max_runs,
            network_mode=network,
            log_retention=retention,
            workers=workers,
            worker_slots=worker_slots,
            external_workers=external_workers,
            anonymous_read=anonymous_read,
        )
    except ExecutorError as error:
        raise _fail(str(error)) from None
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level=log_level.lower(),
        log_config=log_config(log_format, log_level),
    )
