"""How runs look in a terminal: the live tree while a flow runs, one line per
change when the output is a log file rather than a terminal, and tables."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import IO

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from containerops.engine.state import JobState, RunState
from containerops.store import RunRow
from containerops.timestamps import rfc3339

ICONS = {
    "pending": ("·", "dim"),
    "running": ("▶", "bold cyan"),
    "success": ("✔", "green"),
    "failure": ("✘", "bold red"),
    "skipped": ("↷", "yellow"),
    "cancelled": ("■", "magenta"),
    "paused": ("⏸", "blue"),
}
#: Past this many jobs the tree shows counts per stage and only the jobs worth a look.
DETAIL_LIMIT = 60


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return ""
    seconds = ((end or datetime.now(UTC)) - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def status_text(status: str) -> Text:
    icon, style = ICONS.get(status, ("?", ""))
    return Text(f"{icon} {status}", style=style)


def _job_label(js: JobState, name: str) -> Text:
    icon, style = ICONS.get(js.status, ("?", ""))
    label = Text.assemble((f"{icon} ", style), (name, "bold" if js.status == "running" else ""))
    took = duration(js.started_at, js.finished_at)
    if took:
        label.append(f"  {took}", style="dim")
    if js.attempts > 1:
        label.append(f"  attempt {js.attempts}", style="yellow")
    if js.status == "running" and js.last_line:
        label.append(f"  {js.last_line[:80]}", style="dim italic")
    elif js.reason and js.status in ("failure", "cancelled"):
        label.append(f"  {js.reason}", style=ICONS[js.status][1])
    return label


def run_tree(state: RunState) -> RenderableType:
    """Stages, actions and jobs with their states and durations."""
    header = Text.assemble(
        (f"{state.flow.uri} #{state.number}", "bold"),
        "  ",
        status_text(state.status),
        (f"  {duration(state.started_at, state.finished_at)}", "dim"),
    )
    tree = Tree(header)
    detailed = len(state.jobs) <= DETAIL_LIMIT
    for stage in state.flow.stages:
        if stage.type in ("start", "end"):
            continue
        stage_jobs = [state.jobs[job.path] for action in stage.actions for job in action.jobs]
        counts = Counter(js.status for js in stage_jobs)
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        mode = "parallel" if stage.sequencing == "parallel" else "sequence"
        branch = tree.add(Text.assemble((stage.name, "bold"), (f"  {mode}  {summary}", "dim")))
        if not detailed:
            for js in stage_jobs:
                if js.status in ("running", "failure", "cancelled"):
                    branch.add(_job_label(js, js.path))
            continue
        for action in stage.actions:
            node = branch.add(Text(action.name))
            for job in action.jobs:
                node.add(_job_label(state.jobs[job.path], job.name))
    return tree


def summary(state: RunState) -> RenderableType:
    """The closing lines: verdict, counts, and what failed with how to see why."""
    counts = Counter(js.status for js in state.jobs.values())
    verdict = status_text(state.status)
    verdict.append(f"  {state.flow.uri} #{state.number} (run {state.id})", style="bold")
    verdict.append(f" in {duration(state.started_at, state.finished_at)}", style="dim")
    lines: list[RenderableType] = [
        verdict,
        Text(f"{len(state.jobs)} jobs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))),
    ]
    if state.reason:
        lines.append(Text(f"reason: {state.reason}", style=ICONS.get(state.status, ("", ""))[1]))
    for js in state.jobs.values():
        if js.status == "failure":
            lines.append(
                Text.from_markup(
                    f"  [red]✘ {escape(js.path)}[/]: {escape(js.reason or '')}"
                    f"  [dim](coops logs {state.id} --job {escape(js.path)})[/]"
                )
            )
    return Group(*lines)


def change_line(out: IO[str], js: JobState) -> None:
    """One plain line per job change, for output that is not a terminal (CI logs).

    Plain writes, not Rich: a 10,000-job flow makes 20,000 of these lines.
    """
    icon = ICONS.get(js.status, ("?", ""))[0]
    parts = [f"{icon} {js.status:<9} {js.path}"]
    if js.status == "running":
        if js.attempts > 1:
            parts.append(f"attempt {js.attempts}")
    else:
        took = duration(js.started_at, js.finished_at)
        if took:
            parts.append(took)
        if js.reason:
            parts.append(js.reason)
    out.write("  ".join(parts) + "\n")


def runs_table(rows: list[RunRow]) -> Table:
    """``coops runs list``: one line per run."""
    table = Table("run", "flow", "#", "status", "started", "took", "reason", box=None)
    for row in rows:
        table.add_row(
            str(row.id),
            row.uri,
            str(row.number),
            status_text(row.status),
            rfc3339(row.started_at, "seconds") if row.started_at else "",
            duration(row.started_at, row.finished_at) if row.finished_at else "",
            (row.reason or "")[:60],
        )
    return table


def run_detail(row: RunRow) -> RenderableType:
    """``coops runs show``: the run's header and a line per job."""
    header = Text.from_markup(
        f"[bold]{escape(row.uri)} #{row.number}[/] (run {row.id}, flow version {row.flow_version}, "
        f"{row.executor} executor)"
    )
    verdict = Text.assemble(status_text(row.status), " ", duration(row.started_at, row.finished_at))
    lines: list[RenderableType] = [header, verdict]
    if row.reason:
        lines.append(Text(f"reason: {row.reason}"))
    table = Table("job", "status", "exit", "tries", "took", "outputs / reason", box=None)
    for j in row.jobs:
        detail = j.reason or ", ".join(f"{k}={v[:40]}" for k, v in j.outputs.items())
        table.add_row(
            j.path,
            status_text(j.status),
            "" if j.exit_code is None else str(j.exit_code),
            str(j.attempts),
            duration(j.started_at, j.finished_at) if j.finished_at else "",
            escape(detail[:100]),
        )
    lines.append(table)
    return Group(*lines)


def log_line(
    job_path: str, attempt: int, stream: str, at: datetime, text: str, *, with_job: bool, timestamps: bool
) -> str:
    """One stored log line as ``coops logs`` prints it: ``[job#attempt] ! text``."""
    prefix = f"[{job_path}{'#' + str(attempt) if attempt > 1 else ''}] " if with_job else ""
    mark = "! " if stream == "stderr" else ""
    stamp = f"{rfc3339(at)} " if timestamps else ""
    return f"{stamp}{prefix}{mark}{text}\n"
