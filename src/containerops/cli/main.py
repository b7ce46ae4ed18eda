"""``coops``: run, validate and inspect ContainerOps flows.

Exit codes: 0 success, 1 the flow failed, 2 invalid input, 130 cancelled.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from containerops.cli import render
from containerops.engine import Engine, JobState, RunState
from containerops.engine.plan import plan
from containerops.executors import EXECUTORS, get_executor
from containerops.executors.base import ExecutorError
from containerops.model.diagnostics import Diagnostic, FlowInvalid
from containerops.model.loader import LoadResult, load_flow
from containerops.model.validate import check_runnable_locally
from containerops.store import Store, StoreError

EXIT_FAILURE, EXIT_INVALID, EXIT_CANCELLED = 1, 2, 130
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

app = typer.Typer(
    name="coops",
    help=(
        "ContainerOps: DevOps flows of container components.\n\n"
        "A flow's stages run in order; a stage's actions run in sequence or in parallel; "
        "an action's jobs run one after another, each in a fresh container, and the "
        "outputs of one job feed the inputs of later ones.\n\n"
        "Start with:  coops images build-base  then  coops run examples/demo.yaml"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="List and inspect past and current runs.", no_args_is_help=True)
images_app = typer.Typer(help="Build the base images components start from.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(images_app, name="images")

err = Console(stderr=True)


def _fail(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        style = "red" if diagnostic.severity == "error" else "yellow"
        err.print(f"[{style}]{escape(str(diagnostic))}[/]", highlight=False)


def _load(file: Path) -> LoadResult:
    try:
        result = load_flow(file)
    except FlowInvalid as invalid:
        _print_diagnostics(invalid.diagnostics)
        errors = sum(1 for d in invalid.diagnostics if d.severity == "error")
        raise _fail(f"{file}: {errors} problem{'s' if errors != 1 else ''}; nothing was started") from None
    _print_diagnostics(result.warnings)
    return result


def _parse_sets(values: list[str]) -> dict[str, str]:
    sets: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not _ENV_NAME.match(key):
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
) -> None:
    """Run a flow now, on this machine, and show its progress live.

    Examples:

      coops run examples/demo.yaml

      coops run flow.yaml --executor local --set GREETING=hello --json
    """
    if executor not in EXECUTORS:
        raise _fail(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    loaded = _load(file)
    problems = check_runnable_locally(loaded.flow, str(file), executor)
    if problems:
        _print_diagnostics(problems)
        raise _fail(f"{file}: cannot run here; nothing was started")
    overrides = _parse_sets(sets or [])
    try:
        chosen = get_executor(executor, network_mode=network)
    except ExecutorError as error:
        raise _fail(str(error)) from None
    store = Store.open()
    engine = Engine(store, chosen, network_mode=network or "bridge")
    state = engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format, params={"set": overrides})
    console = err if as_json else Console()
    _collect_less()
    final = asyncio.run(_run_live(engine, state, console))
    if as_json:  # what the store holds, so a script reads exactly what was recorded
        sys.stdout.write(json.dumps(store.get_run(final.id).to_json()) + "\n")
    else:
        console.print(render.summary(final), highlight=False)
    store.close()
    if final.status == "success":
        return
    raise typer.Exit(EXIT_CANCELLED if final.status == "cancelled" else EXIT_FAILURE)


async def _run_live(engine: Engine, state: RunState, console: Console) -> RunState:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, engine.cancel, f"cancelled by {signal.Signals(signum).name}")
    if console.is_terminal:
        with Live(get_renderable=lambda: render.run_tree(state), console=console, refresh_per_second=8):
            return await engine.run()

    def on_change(_state: RunState, js: JobState | None) -> None:
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
) -> None:
    """Check flows without running anything: every problem, with file:line:column.

    Exits 2 when any file is invalid. Warnings (such as an unsupported `kubectl`
    key in the original files) do not make a file invalid.
    """
    report: list[dict[str, Any]] = []
    invalid = 0
    for file in files:
        try:
            result = load_flow(file)
        except FlowInvalid as error:
            invalid += 1
            diagnostics = error.diagnostics
            ok = False
        else:
            diagnostics = result.warnings
            ok = True
        entry: dict[str, Any] = {
            "file": str(file),
            "valid": ok,
            "diagnostics": [_diag_json(d) for d in diagnostics],
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


def _diag_json(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "severity": diagnostic.severity,
        "message": diagnostic.message,
        "file": diagnostic.file,
        "line": diagnostic.line,
        "column": diagnostic.column,
        "where": diagnostic.where,
    }


# -- runs --------------------------------------------------------------------------
def _open_run(store: Store, ref: str) -> int:
    try:
        return store.resolve_run(ref)
    except StoreError as error:
        raise _fail(str(error)) from None


@runs_app.command("list")
def runs_list(
    flow: Annotated[str | None, typer.Option("--flow", help="Only runs of this flow URI.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs in this state (success, failure...).")] = None,
    limit: Annotated[int, typer.Option(help="How many of the newest runs.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The newest runs, newest first."""
    store = Store.open()
    rows = store.list_runs(limit=limit, uri=flow, status=status)
    if as_json:
        sys.stdout.write(json.dumps([row.to_json(with_jobs=False) for row in rows]) + "\n")
        return
    table = Table("run", "flow", "#", "status", "started", "took", "reason", box=None)
    for row in rows:
        table.add_row(
            str(row.id),
            row.uri,
            str(row.number),
            render.status_text(row.status),
            row.started_at.strftime("%Y-%m-%d %H:%M:%S") if row.started_at else "",
            render.duration(row.started_at, row.finished_at) if row.finished_at else "",
            (row.reason or "")[:60],
        )
    Console().print(table)


@runs_app.command("show")
def runs_show(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="A run id, or FLOW-URI#NUMBER.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: the run, its jobs, attempts and history.")
    ] = False,
    flow_source: Annotated[
        bool, typer.Option("--flow", help="Print the flow definition exactly as this run ran it.")
    ] = False,
) -> None:
    """A run: its jobs with states, exit codes, reasons and outputs, and its history."""
    store = Store.open()
    run_id = _open_run(store, run_ref)
    if flow_source:
        sys.stdout.write(store.flow_source(run_id))
        return
    row = store.get_run(run_id)
    attempts = store.attempts(run_id)
    if as_json:
        document = row.to_json()
        document["attempts"] = attempts
        document["history"] = store.state_changes(run_id)
        sys.stdout.write(json.dumps(document, default=str) + "\n")
        return
    console = Console()
    console.print(
        f"[bold]{escape(row.uri)} #{row.number}[/] (run {row.id}, flow version {row.flow_version}, "
        f"{row.executor} executor)",
        highlight=False,
    )
    console.print(render.status_text(row.status), render.duration(row.started_at, row.finished_at))
    if row.reason:
        console.print(f"reason: {escape(row.reason)}", highlight=False)
    table = Table("job", "status", "exit", "tries", "took", "outputs / reason", box=None)
    for j in row.jobs:
        detail = j.reason or ", ".join(f"{k}={v[:40]}" for k, v in j.outputs.items())
        table.add_row(
            j.path,
            render.status_text(j.status),
            "" if j.exit_code is None else str(j.exit_code),
            str(j.attempts),
            render.duration(j.started_at, j.finished_at) if j.finished_at else "",
            escape(detail[:100]),
        )
    console.print(table)


# -- logs --------------------------------------------------------------------------
@app.command()
def logs(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="A run id, or FLOW-URI#NUMBER.")],
    job: Annotated[str | None, typer.Option("--job", "-j", help="Only this job: stage.action.job.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the run ends.")
    ] = False,
    timestamps: Annotated[bool, typer.Option("--timestamps", "-t", help="Show each line's time.")] = False,
) -> None:
    """Print the log lines of a run (or of one job), from the store.

    Lines stay after containers are gone. Each line is prefixed with its job
    (and attempt when retried); stderr lines are marked.
    """
    store = Store.open()
    run_id = _open_run(store, run_ref)
    if job is not None and job not in store.job_paths(run_id):
        raise _fail(f"run {run_ref} has no job {job!r}; its jobs: {', '.join(store.job_paths(run_id))}")
    out = sys.stdout
    last_id = 0
    prefixes: dict[tuple[str, int], str] = {}
    _collect_less()
    while True:
        finished = store.get_run(run_id, with_jobs=False).status not in ("pending", "running")
        while True:
            rows = store.log_lines(run_id, job_path=job, after_id=last_id)
            text = []  # one write a read: a follower keeps up with a chatty job
            for line in rows:
                key = (line.job_path, line.attempt)
                prefix = prefixes.get(key)
                if prefix is None:
                    retry = f"#{line.attempt}" if line.attempt > 1 else ""
                    prefix = prefixes[key] = "" if job else f"[{line.job_path}{retry}] "
                mark = "! " if line.stream == "stderr" else ""
                stamp = f"{line.at.isoformat()} " if timestamps else ""
                text.append(f"{stamp}{prefix}{mark}{line.line}\n")
            if rows:
                out.write("".join(text))
                last_id = rows[-1].id
                out.flush()
            if len(rows) < 10_000:
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
    from containerops.images import ImageBuildError, build_base_images

    def progress(message: str) -> None:
        if verbose or not message.startswith("  "):  # two spaces: raw `docker build` output
            err.print(f"[dim]{escape(message)}[/]", highlight=False)

    try:
        built = build_base_images(force=force, progress=progress)
    except (ImageBuildError, ExecutorError) as error:
        raise _fail(f"building the base images failed: {error}", EXIT_FAILURE) from None
    for image in built:
        state = f"built in {image.seconds:.1f}s" if image.built else "up to date"
        err.print(f"[green]✔[/] {escape(image.tag)}  {state}  {image.size / 2**20:.1f} MiB", highlight=False)


@app.command()
def cleanup() -> None:
    """Remove every container ContainerOps started that is still there.

    Runs remove their containers themselves, even when cancelled; this is for
    what a killed process (kill -9, a crash, a reboot) left behind. Every
    container of ours carries the label containerops.managed=true.
    """
    from containerops.executors.docker import cleanup_all

    try:
        removed = cleanup_all()
    except ExecutorError as error:
        raise _fail(str(error)) from None
    err.print(f"removed {removed} container{'s' if removed != 1 else ''}", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
