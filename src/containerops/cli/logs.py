"""``coops logs`` beyond printing a log: ``--grep`` (with ``-C``), ``--no-color`` and
``--download``, from the local store or a server."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, Any

from containerops.cli import render
from containerops.logtext import strip_ansi
from containerops.store import Store
from containerops.store.logs import log_text_runs
from containerops.store.logsearch import Found, compile_pattern, search_run

#: Matches a page when searching the local store.
PAGE = 10_000


class Plain:
    """A text output that leaves out ANSI escape sequences (``--no-color``)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, text: str) -> int:
        return self.out.write(strip_ansi(text))

    def flush(self) -> None:
        self.out.flush()


def matches_text(
    found: Iterable[Found], *, with_job: bool, timestamps: bool, context: int, last: list[Any]
) -> str:
    """Matching lines (and their context) as ``coops logs`` prints lines; with context, ``--``
    between groups that do not follow each other in their job attempt, as grep does.
    ``last`` holds the previous line's (job, attempt, seq) from one page to the next."""
    parts: list[str] = []
    for item in found:
        row = item.row
        if context and last and (last[0], last[1], last[2] + 1) != (row.job_path, row.attempt, row.seq):
            parts.append("--\n")
        last[:] = [row.job_path, row.attempt, row.seq]
        parts.append(
            render.log_line(
                row.job_path,
                row.attempt,
                row.stream,
                row.at,
                row.line,
                with_job=with_job,
                timestamps=timestamps,
            )
        )
    return "".join(parts)


def grep_local(
    store: Store, run_id: int, pattern: str, *, job: str | None, context: int, timestamps: bool
) -> Iterator[str]:
    """The matching lines of a stored run, a page of text at a time (PatternError if refused)."""
    compiled = compile_pattern(pattern)
    after: int | None = 0
    last: list[Any] = []
    while after is not None:
        found, after = search_run(
            store, run_id, compiled, job_path=job, context=context, after_id=after, limit=PAGE
        )
        yield matches_text(
            found,
            with_job=job is None,
            timestamps=timestamps,
            context=context,
            last=last,
        )


def download_local(store: Store, run_id: int, job: str | None) -> Iterator[str]:
    """The whole log as ``coops logs`` prints it, a page of blocks at a time."""
    after = 0
    while True:
        paths, runs = log_text_runs(store, run_id, job_path=job, after_id=after, limit=100_000)
        if not runs:
            return
        yield render.log_runs(runs, paths, with_job=job is None)
        after = runs[-1].last_id
