"""How runs look in a terminal: the live tree while a flow runs, one line per
change when the output is a log file rather than a terminal, and tables."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter
from typing import IO, TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from containerops.engine.state import JobState, RunState
from containerops.logtext import line_prefix, prefixed_runs
from containerops.model.paths import group_of
from containerops.store import RunRow
from containerops.timestamps import rfc3339

if TYPE_CHECKING:  # store.logs loads SQLAlchemy: not for every command's start-up
    from containerops.store.logs import RawLine, TextRun

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
    elif js.reason and js.status in ("pending", "skipped"):  # waits for what it needs; inactive; why skipped
        label.append(f"  {js.reason}", style="dim")
    return label


def run_tree(state: RunState) -> RenderableType:
    """Stages, actions and jobs with their states and durations; a matrix job is one line
    with its instances counted by state, and only those worth a look below it."""
    header = Text.assemble(
        (f"{state.flow.uri} #{state.number}", "bold"),
        "  ",
        status_text(state.status),
        (f"  {duration(state.started_at, state.finished_at)}", "dim"),
    )
    tree = Tree(header)
    detailed = len(state.flow.jobs()) <= DETAIL_LIMIT
    for stage in state.flow.stages:
        if stage.type in ("start", "end"):
            continue
        stage_jobs = [state.jobs[job.path] for action in stage.actions for job in action.jobs]
        counts = Counter(js.status for js in stage_jobs)
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        mode = "parallel" if stage.sequencing == "parallel" else "sequence"
        branch = tree.add(Text.assemble((stage.name, "bold"), (f"  {mode}  {summary}", "dim")))
        if not detailed:
            worth = [js for js in stage_jobs if js.status in WORTH_A_LOOK and js.path not in state.instances]
            worth += [
                member
                for js in stage_jobs
                for path in state.instances.get(js.path, ())
                if (member := state.jobs[path]).status in WORTH_A_LOOK
            ]
            _add_some(branch, [_job_label(js, js.path) for js in worth])
            continue
        for action in stage.actions:
            node = branch.add(Text(action.name))
            for job in action.jobs:
                js = state.jobs[job.path]
                if job.path in state.instances:
                    _add_group(node, state, js)
                else:
                    node.add(_job_label(js, job.name))
    return tree


#: Jobs the tree shows when it cannot show them all.
WORTH_A_LOOK = frozenset({"running", "failure", "cancelled"})
#: Lines under one branch before "... and N more".
BRANCH_LIMIT = 12


def _add_group(node: Tree, state: RunState, group: JobState) -> None:
    """A matrix job: its line with counts; all its instances when few, else those worth a look."""
    members = [state.jobs[path] for path in state.instances[group.path]]
    counts = Counter(js.status for js in members)
    label = _job_label(dataclasses.replace(group, reason=None), group.job.name)
    label.append(f"  {len(members)} instances: ", style="dim")
    label.append(", ".join(f"{n} {status}" for status, n in sorted(counts.items())), style="dim")
    branch = node.add(label)
    shown = members if len(members) <= 4 else [js for js in members if js.status in WORTH_A_LOOK]
    _add_some(branch, [_job_label(js, js.path.removeprefix(group.path)) for js in shown])


def _add_some(branch: Tree, labels: list[Text]) -> None:
    for label in labels[:BRANCH_LIMIT]:
        branch.add(label)
    if len(labels) > BRANCH_LIMIT:
        branch.add(Text(f"... and {len(labels) - BRANCH_LIMIT} more", style="dim"))


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
    failed = [js for js in state.jobs.values() if js.status == "failure" and js.path not in state.instances]
    for js in failed[:BRANCH_LIMIT]:
        lines.append(
            Text.from_markup(
                f"  [red]✘ {escape(js.path)}[/]: {escape(js.reason or '')}"
                f"  [dim](coops logs {state.id} --job {escape(js.path)})[/]"
            )
        )
    if len(failed) > BRANCH_LIMIT:
        lines.append(Text(f"  ... and {len(failed) - BRANCH_LIMIT} more failed (coops runs show {state.id})"))
    return Group(*lines)


def change_line(out: IO[str], js: JobState) -> None:
    """One plain line per job change, for output that is not a terminal (CI logs).

    Plain writes, not Rich: a 10,000-job flow makes 20,000 of these lines. A matrix's
    instances are told only when they fail or are cancelled: their group's lines count them.
    """
    if group_of(js.path) is not None and js.status not in ("failure", "cancelled"):
        return
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


def run_detail(row: RunRow, *, instances: bool = False) -> RenderableType:
    """``coops runs show``: the run's header and a line per job; a matrix job's line counts
    its instances, listed too with ``instances``."""
    header = Text.from_markup(
        f"[bold]{escape(row.uri)} #{row.number}[/] (run {row.id}, flow version {row.flow_version}, "
        f"{row.executor} executor)"
    )
    verdict = Text.assemble(status_text(row.status), " ", duration(row.started_at, row.finished_at))
    lines: list[RenderableType] = [header, verdict]
    if row.reason:
        lines.append(Text(f"reason: {row.reason}"))
    groups = row.groups()
    table = Table("job", "status", "exit", "tries", "took", "outputs / reason", box=None)
    for j in row.jobs:
        if j.group is not None and not instances:
            continue
        if j.path in groups:
            tally = ", ".join(f"{n} {status}" for status, n in sorted(groups[j.path].items()))
            detail = f"{sum(groups[j.path].values())} instances: {tally}"
        else:
            detail = j.reason or ", ".join(f"{k}={v[:40]}" for k, v in j.outputs.items())
        table.add_row(
            Text(j.path),
            status_text(j.status),
            "" if j.exit_code is None else str(j.exit_code),
            str(j.attempts),
            duration(j.started_at, j.finished_at) if j.finished_at else "",
            Text(detail[:100]),
        )
    lines.append(table)
    if groups and not instances:
        lines.append(Text(f"(a matrix's instances: coops runs show {row.id} --instances)", style="dim"))
    return Group(*lines)


def log_line(
    job_path: str, attempt: int, stream: str, at: datetime, text: str, *, with_job: bool, timestamps: bool
) -> str:
    """One stored log line as ``coops logs`` prints it: ``[job#attempt] ! text``."""
    stamp = f"{rfc3339(at)} " if timestamps else ""
    return f"{stamp}{_log_prefix(job_path, attempt, stream, with_job)}{text}\n"


def _log_prefix(job_path: str, attempt: int, stream: str, with_job: bool) -> str:
    return line_prefix(job_path, attempt, stream, with_job=with_job)


def log_runs(runs: Sequence[TextRun], paths: dict[int, str], *, with_job: bool) -> str:
    """:func:`log_text_runs`'s runs of lines as :func:`log_line` prints them (without times)."""
    return prefixed_runs(((paths[r.job_id], r.attempt, r.stream, r.text) for r in runs), with_job=with_job)


def log_block(rows: Sequence[RawLine], paths: dict[int, str], *, with_job: bool, timestamps: bool) -> str:
    """Stored lines (:func:`containerops.store.logs.raw_log_lines`) as :func:`log_line` prints
    them, all at once: the lines of one job, attempt and stream in a row share their prefix,
    so each such run is one ``join`` (a whole log of a million lines takes well under a second).
    """
    parts: list[str] = []
    add = parts.append
    for (job_id, attempt, stream), group in groupby(rows, key=itemgetter(1, 2, 3)):
        prefix = _log_prefix(paths[job_id], attempt, stream, with_job)
        if timestamps:
            for row in group:
                at = row[4]
                stamp = at if isinstance(at, str) else rfc3339(at)  # SQLite holds RFC 3339 text
                add(f"{stamp} {prefix}{row[5]}\n")
            continue
        texts = list(map(itemgetter(5), group))
        add(prefix + ("\n" + prefix).join(texts) + "\n" if prefix else "\n".join(texts) + "\n")
    return "".join(parts)
