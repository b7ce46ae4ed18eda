"""Reading logs back in bulk: runs of lines joined by the database, and the tail, against the
lines as the recorder stored them (a brute-force reading of every row)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from containerops.store import Store
from containerops.store.logs import log_text_runs, raw_log_lines


def _stored(store: Store) -> tuple[int, list[tuple[str, int, str, str]]]:
    """A run whose two jobs printed long runs, short interleaved runs, retries and empty lines."""
    flow_id, version_id, _ = store.save_flow("test/logs/read", "x", "yaml")
    new = store.create_run(flow_id, version_id, "dummy", {}, [("s.a.one", None), ("s.a.two", None)])
    recorder = store.recorder(new.id)
    rng, now = random.Random(5), datetime.now(UTC)
    written: list[tuple[str, int, str, str]] = []
    pending: list[tuple[str, int, str, str]] = []
    seq = dict.fromkeys(new.job_ids, 0)
    for block in range(120):
        job = rng.choice(list(new.job_ids))
        attempt = 1 if block < 80 else 2
        stream = rng.choice(["stdout", "stderr"])
        length = rng.choice([1, 3, 250, 1200])
        texts = [f"{job} {block} {n}" if n % 9 else "" for n in range(length)]
        recorder.log_batch(new.job_ids[job], attempt, seq[job] + 1, [now] * length, [stream] * length, texts)
        seq[job] += length
        pending += [(job, attempt, stream, text) for text in texts]
        if rng.random() < 0.7 or block == 119:
            recorder.flush()
            # A burst's lines are stored a job attempt at a time, in the order each came first.
            order: dict[tuple[str, int], int] = {}
            for line in pending:
                order.setdefault(line[:2], len(order))
            written += sorted(pending, key=lambda line: order[line[:2]])
            pending = []
    return new.id, written


@pytest.mark.parametrize("limit", [10_000_000, 700, 1])
def test_runs_of_lines_hold_every_line_in_order(store: Store, limit: int) -> None:
    run_id, written = _stored(store)
    for job in (None, "s.a.one"):
        got: list[tuple[str, int, str, str]] = []
        after = 0
        while True:
            paths, runs = log_text_runs(store, run_id, job_path=job, after_id=after, limit=limit)
            if not runs:
                break
            for run in runs:
                got += [(paths[run.job_id], run.attempt, run.stream, text) for text in run.text.split("\n")]
            after = runs[-1].last_id
            if limit == 1 and len(got) > 300:  # one line a page: enough to see the pages join up
                break
        expected = [line for line in written if job is None or line[0] == job]
        assert got == expected[: len(got)] and (limit == 1 or len(got) == len(expected))


def test_the_tail_is_the_last_lines(store: Store) -> None:
    run_id, written = _stored(store)
    _, rows = raw_log_lines(store, run_id, tail=100)
    assert [(row[2], row[3], row[5]) for row in rows] == [line[1:] for line in written[-100:]]
    paths, rows = raw_log_lines(store, run_id, job_path="s.a.two", tail=7)
    assert [(paths[row[1]], row[2], row[3], row[5]) for row in rows] == [
        line for line in written if line[0] == "s.a.two"
    ][-7:]
    assert raw_log_lines(store, run_id, tail=0)[1] == []
