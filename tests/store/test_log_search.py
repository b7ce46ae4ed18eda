"""Searching stored logs (``logsearch``) against a brute-force scan of every line, with
context across blocks, paging, lines holding newlines, and refused patterns."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from containerops.store import Store, logblocks, loggrams
from containerops.store import schema as t
from containerops.store.logsearch import PatternError, compile_pattern, search_run
from containerops.store.rows import LogRow

PATTERNS = ["panic", "^line 1", "7$", "(?i)ERROR|data race", "x*", "[0-9]{3} z", "no such text"]


def _stored(store: Store) -> tuple[int, list[LogRow]]:
    flow_id, version_id, _ = store.save_flow("test/logs/search", "x", "yaml")
    new = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.one", None), ("s.a.two", None)])
    recorder = store.recorder(new.id)
    rng, now = random.Random(13), datetime.now(UTC)
    seq = {(job, attempt): 0 for job in new.job_ids for attempt in (1, 2)}
    words = ["line", "panic", "error", "ERROR", "data race", "ok", "7", "z", ""]
    for burst in range(150):
        job, attempt = rng.choice(list(new.job_ids)), 1 if burst < 100 else 2
        length = rng.choice([1, 2, 5, 40, 300])
        texts = [
            " ".join(rng.choice(words) for _ in range(rng.randint(0, 4))) + f" {n}" for n in range(length)
        ]
        if burst == 77:
            texts[0] = "an engine message\nwith a panic on its second line"
        stream = rng.choice(["stdout", "stderr"])
        first = seq[job, attempt] + 1
        recorder.log_batch(new.job_ids[job], attempt, first, [now] * length, [stream] * length, texts)
        seq[job, attempt] += length
        if rng.random() < 0.5:
            recorder.flush()
    recorder.flush()
    return new.id, store.log_lines(new.id, limit=1_000_000)


def _brute_force(rows: list[LogRow], pattern: str, context: int, job: str | None) -> list[tuple[int, bool]]:
    compiled = compile_pattern(pattern)
    shown: dict[int, bool] = {}
    for key in {(row.job_path, row.attempt) for row in rows if job in (None, row.job_path)}:
        mine = [row for row in rows if (row.job_path, row.attempt) == key]
        for index, row in enumerate(mine):
            if any(compiled.search(part.encode()) for part in row.line.split("\n")):
                for near in mine[max(0, index - context) : index + context + 1]:
                    shown[near.id] = shown.get(near.id, False)
                shown[row.id] = True
    return sorted(shown.items())


@pytest.mark.parametrize("pattern", PATTERNS)
def test_search_finds_what_a_scan_of_every_line_finds(store: Store, pattern: str) -> None:
    run_id, rows = _stored(store)
    for job in (None, "s.a.two"):
        for context in (0, 2, 40):
            found, more = search_run(
                store, run_id, compile_pattern(pattern), job_path=job, context=context, limit=10**6
            )
            assert more is None
            assert [(item.row.id, item.match) for item in found] == _brute_force(rows, pattern, context, job)
            assert all(item.row == rows[item.row.id - 1] for item in found)


def test_search_pages_join_up(store: Store) -> None:
    run_id, rows = _stored(store)
    pattern = compile_pattern("(?i)error")
    expected = [row_id for row_id, match in _brute_force(rows, "(?i)error", 0, None) if match]
    got: list[int] = []
    after: int | None = 0
    while after is not None:
        found, after = search_run(store, run_id, pattern, after_id=after, limit=7)
        assert len(found) <= 7
        got += [item.row.id for item in found]
    assert got == expected and len(expected) > 50


@pytest.mark.parametrize("bad", ["", "(", r"(a)\1", "((a{100}){100}){100}", "x" * 1001])
def test_bad_or_costly_patterns_are_refused_saying_why(bad: str) -> None:
    with pytest.raises(PatternError) as refused:
        compile_pattern(bad)
    assert str(refused.value)


def _rare(store: Store) -> tuple[int, list[LogRow]]:
    """A run whose two jobs print many blocks of long lines with a few rare needles: most
    blocks' filters turn a search for them away."""
    flow_id, version_id, _ = store.save_flow("test/logs/rare", "x", "yaml")
    new = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.one", None), ("s.a.two", None)])
    recorder = store.recorder(new.id)
    now, seq = datetime.now(UTC), dict.fromkeys(new.job_ids, 0)
    for burst in range(60):
        job = "s.a.one" if burst % 3 else "s.a.two"
        length = 3 if burst % 7 == 0 else 100  # a short block: fewer lines than the context
        texts = [f"compiling module {seq[job] + n} of a job that prints a lot" for n in range(length)]
        if burst in (5, 6, 31, 59):
            texts[0 if burst == 6 else -1] = "PANIC: data race in module"
        if burst == 40:
            texts[1] = "an engine message\nwith a Data Race on its second line"
        recorder.log_batch(new.job_ids[job], 1, seq[job] + 1, [now] * length, ["stdout"] * length, texts)
        seq[job] += length
        recorder.flush()  # a block per burst
    return new.id, store.log_lines(new.id, limit=1_000_000)


def _as_older_blocks(store: Store, run_id: int, every: int) -> None:
    """Rewrite every ``every``-th block of the run in the format before filters (``\\x01``)."""
    blocks = t.log_blocks
    with store.database.begin() as conn:
        rows = conn.execute(sa.select(blocks.c.id, blocks.c.data).where(blocks.c.run_id == run_id)).all()
        for row in rows[::every]:
            _, rest = loggrams.unpack(row.data, 1)
            older = b"\x01" + row.data[rest:]
            conn.execute(sa.update(blocks).where(blocks.c.id == row.id).values(data=older))


@pytest.mark.parametrize("older", [False, True])
def test_blocks_the_filter_skips_change_nothing_found(store: Store, older: bool) -> None:
    run_id, rows = _stored(store)
    rare_id, rare_rows = _rare(store)
    if older:
        _as_older_blocks(store, rare_id, 2)
    with store.database.connect() as conn:
        query = sa.select(t.log_blocks.c.data).where(t.log_blocks.c.run_id == rare_id)
        stored = conn.execute(query).scalars()
        filters = [logblocks.grams_of(data) for data in stored]
    need = loggrams.need_of("(?i)panic|data race")
    turned_away = [grams for grams in filters if grams and not loggrams.Filter(grams).may_hold(need)]
    assert len(turned_away) > len(filters) // 3
    assert filters.count(None) >= (len(filters) // 2 if older else 1)  # short blocks get none
    for pattern in ["(?i)panic|data race", "data race", "PANIC", "module 1[0-9]$", "^compiling module 4 "]:
        for job in (None, "s.a.two"):
            for context in (0, 2, 40):
                for source, source_rows in ((rare_id, rare_rows), (run_id, rows)):
                    found, more = search_run(
                        store, source, compile_pattern(pattern), job_path=job, context=context, limit=10**6
                    )
                    assert more is None
                    expected = _brute_force(source_rows, pattern, context, job)
                    assert [(item.row.id, item.match) for item in found] == expected, (pattern, job, context)
                    assert all(item.row == source_rows[item.row.id - 1] for item in found)
