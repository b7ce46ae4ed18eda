"""Searching a run's stored log lines, as ``grep`` would: RE2 over each block's text.

Blocks are compressed, so no database index sees their lines; instead each block's
text is searched whole in RE2's C++ (linear in the text, whatever the pattern: no
pattern can make a search take exponential time, and one whose program would be too
big is refused). A block without a match costs its decompression and one scan; only
blocks with matches are split into lines. A match never spans lines (RE2's
``never_nl``), ``^`` and ``$`` are a line's ends, and each matching line counts once.

Context lines (``grep -C``) are the lines of the same job attempt around a match,
across its blocks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, islice
from typing import TYPE_CHECKING

import re2

from containerops.store import logblocks, loggrams
from containerops.store.logs import Block, forward_blocks, lines_of, paths_of, rows_of
from containerops.store.rows import LogRow

if TYPE_CHECKING:
    from containerops.store.store import Store

#: Memory RE2 may use for one pattern's program: a pattern needing more is refused.
MAX_PATTERN_MEMORY = 8 << 20
MAX_PATTERN_LENGTH = 1000
MAX_CONTEXT = 100
_PREFIX = b"(?m)"  # ^ and $ are a line's ends


class PatternError(ValueError):
    """A search pattern RE2 does not take (bad syntax, too costly): the message says why."""


def compile_pattern(pattern: str) -> re2._Regexp[bytes]:
    """``pattern`` (RE2 syntax) for searching log text; PatternError when refused."""
    if not pattern:
        raise PatternError("the pattern is empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    options = re2.Options()
    options.never_nl = True  # a match stays within a line
    options.log_errors = False
    options.max_mem = MAX_PATTERN_MEMORY
    try:
        return re2.compile(_PREFIX + pattern.encode(), options)
    except re2.error as error:
        detail = error.args[0].decode(errors="replace") if error.args else str(error)
        detail = detail if isinstance(detail, str) else str(detail)
        raise PatternError(f"bad pattern {pattern!r}: {detail}") from None


@dataclass(frozen=True, slots=True)
class Found:
    """A line of a search's answer: a match, or (``match`` False) a context line."""

    row: LogRow
    match: bool


@dataclass(slots=True)
class _Around:
    """One job attempt's context: its last lines (a later match's lines before), how many
    lines after a match are still to be shown, and the last line shown."""

    before: deque[LogRow]
    after: int = 0
    last_shown: int = 0
    #: Blocks after ``before``'s lines that the filter skipped: read only if a match needs
    #: their last lines as its context.
    skipped: list[Block] = field(default_factory=list)


@lru_cache(maxsize=256)
def _need_of(pattern: bytes) -> loggrams.Need:
    return loggrams.need_of(pattern.removeprefix(_PREFIX).decode())


def _may_hold(block: Block, need: loggrams.Need) -> bool:
    """Whether the block may hold a match (False only when its filter says it cannot)."""
    if need.nothing:
        return True
    grams = logblocks.grams_of(block.data)
    return grams is None or loggrams.Filter(grams).may_hold(need)


def _read_skipped(state: _Around, paths: dict[int, str], context: int) -> None:
    """Put the last lines of the blocks the filter skipped in ``state.before``."""
    for block in state.skipped:
        decoded = logblocks.decode(block.data)
        count = decoded.count
        state.before.extend(rows_of(block, decoded, paths[block.job_id], max(0, count - context), count))
    state.skipped.clear()


def _skip(state: _Around, block: Block, context: int) -> None:
    """A block without a match, not read: keep it in case a later match needs its lines."""
    if not context:
        return
    state.skipped.append(block)
    while len(state.skipped) > 1 and sum(_count(b) for b in state.skipped[1:]) >= context:
        del state.skipped[0]


def _count(block: Block) -> int:
    return block.last_line - block.first_line + 1


def search_run(
    store: Store,
    run_id: int,
    pattern: re2._Regexp[bytes],
    *,
    job_path: str | None = None,
    context: int = 0,
    after_id: int = 0,
    limit: int = 1000,
) -> tuple[list[Found], int | None]:
    """The run's lines (or one job's) after line ``after_id`` that match, at most ``limit``
    of them, each with up to ``context`` lines of its job attempt before and after; and
    where to go on (the ``after_id`` of the next page), None when the log was searched to
    its end."""
    found: list[Found] = []
    matched = 0
    around: dict[tuple[int, int], _Around] = {}
    need = _need_of(pattern.pattern)
    with store.autocommit.connect() as conn:
        paths = paths_of(conn, run_id)
        for block in forward_blocks(conn, lines_of(run_id, paths, job_path), after_id):
            state = around.setdefault((block.job_id, block.attempt), _Around(deque(maxlen=context)))
            if not state.after and not _may_hold(block, need):
                _skip(state, block, context)
                continue
            decoded = logblocks.decode(block.data)
            count, skip = decoded.count, max(0, after_id + 1 - block.first_line)
            hits = list(islice(_matching(decoded, pattern, skip), limit - matched))
            matched += len(hits)
            if state.skipped and (count < context or (hits and hits[0] < context)):
                _read_skipped(state, paths, context)
            state.skipped.clear()  # (this block's own last lines are all the context kept)
            shown: dict[int, bool] = dict.fromkeys(range(skip, min(count, skip + state.after)), False)
            for hit in hits:
                if hit < context:  # the lines before it begin in the attempt's earlier blocks
                    earlier = list(state.before)[max(0, len(state.before) - (context - hit)) :]
                    for row in earlier:
                        if row.id > state.last_shown:
                            found.append(Found(row, False))
                            state.last_shown = row.id
                window = range(max(0, hit - context), min(count, hit + context + 1))
                shown.update(dict.fromkeys(window, False))
            shown.update(dict.fromkeys(hits, True))
            if shown:
                rows = rows_of(block, decoded, paths[block.job_id], min(shown), max(shown) + 1)
                first = block.first_line + min(shown)
                for index in sorted(shown):
                    row = rows[block.first_line + index - first]
                    if row.id > state.last_shown:
                        found.append(Found(row, shown[index]))
                        state.last_shown = row.id
            if hits:
                state.after = max(0, hits[-1] + context - (count - 1))
                if matched >= limit:
                    return _in_order(found), block.first_line + hits[-1]
            else:
                state.after = max(0, state.after - (count - skip))
            if context:
                state.before.extend(
                    rows_of(block, decoded, paths[block.job_id], max(0, count - context), count)
                )
    return _in_order(found), None


def _in_order(found: list[Found]) -> list[Found]:
    """By line id: a match's lines before it may come from an earlier block of its attempt,
    found after lines of other jobs' blocks."""
    return sorted(found, key=lambda item: item.row.id)


def _matching(decoded: logblocks.Decoded, pattern: re2._Regexp[bytes], skip: int) -> Iterator[int]:
    """The indexes of the block's lines from ``skip`` on that match, each once."""
    if decoded.json_lines is not None:  # lines holding newlines: one at a time
        for index, line in enumerate(decoded.json_lines[skip:], skip):
            if pattern.search(line.encode("utf-8", "surrogatepass")):
                yield index
        return
    body = decoded.body
    position = number = 0
    if skip:
        starts = _line_starts(body)
        position, number = (starts[skip], skip) if skip < len(starts) else (len(body) + 1, skip)
    counted = position  # the newlines before this offset are counted in ``number``
    while position <= len(body):
        match = pattern.search(body, position)
        if match is None:
            return
        start = match.start()
        number += body.count(b"\n", counted, start)
        yield number
        end = body.find(b"\n", start)
        if end < 0:
            return
        position = counted = end + 1
        number += 1


def _line_starts(body: bytes) -> list[int]:
    """Where each line of the block's text starts (byte offsets)."""
    return [0, *accumulate(len(line) + 1 for line in body.split(b"\n")[:-1])]
