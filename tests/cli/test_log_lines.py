"""A chatty job's lines, end to end: ``coops run`` stores them (local and docker
executors), ``coops logs`` prints them whole and ``--tail`` prints the last ones.

200,000 numbered lines on two streams at once (a million in bench/log_lines.py):
none lost, none repeated, each stream in order, every line numbered in order, times
never going back.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from containerops.store import Store
from containerops.store.logs import raw_log_lines
from tests.cli.test_cli import BUSYBOX, coops, write

LINES = 100_000  # per stream
SCRIPT = f"seq 1 {LINES} & seq {LINES + 1} {2 * LINES} >&2; wait"


def chatty_flow(executor: str) -> str:
    endpoint = f"endpoint: '{BUSYBOX}', " if executor == "docker" else ""
    return (
        f"uri: test/logs/{executor}\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        f"          - {{name: chatty, {endpoint}command: [sh, -c, '{SCRIPT}']}}\n"
    )


@pytest.mark.parametrize("executor", ["local", pytest.param("docker", marks=pytest.mark.docker)])
@pytest.mark.timeout(300)
def test_every_line_of_a_chatty_job_is_stored_once_in_order(
    tmp_path: Path, executor: str, docker_ready: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = write(tmp_path, chatty_flow(executor))
    args = ["--network", "host"] if executor == "docker" else []
    coops("run", str(flow), "--executor", executor, *args, home=tmp_path, check=0)
    monkeypatch.setenv("COOPS_HOME", str(tmp_path))
    monkeypatch.delenv("COOPS_DATABASE_URL", raising=False)
    store = Store.open()
    try:
        _, rows = raw_log_lines(store, 1, limit=10 * LINES, with_times=True)
    finally:
        store.close()
    out = [int(row[5]) for row in rows if row[3] == "stdout"]
    err = [int(row[5]) for row in rows if row[3] == "stderr"]
    assert out == list(range(1, LINES + 1))
    assert err == list(range(LINES + 1, 2 * LINES + 1))
    times = [datetime.fromisoformat(row[4]) for row in rows]
    assert all(a <= b for a, b in pairwise(times))
    assert len({row[0] for row in rows}) == 2 * LINES


def test_logs_prints_the_whole_log_and_its_tail(tmp_path: Path) -> None:
    flow = write(tmp_path, chatty_flow("local"))
    coops("run", str(flow), "--executor", "local", home=tmp_path, check=0)
    whole = coops("logs", "1", home=tmp_path, check=0).stdout.splitlines()
    assert len(whole) == 2 * LINES
    assert [line for line in whole if "!" not in line] == [f"[s.a.chatty] {n}" for n in range(1, LINES + 1)]
    assert [line for line in whole if "!" in line] == [
        f"[s.a.chatty] ! {n}" for n in range(LINES + 1, 2 * LINES + 1)
    ]
    tail = coops("logs", "1", "--tail", "100", home=tmp_path, check=0).stdout.splitlines()
    assert tail == whole[-100:]
    job = coops("logs", "1", "--job", "s.a.chatty", "-n", "3", home=tmp_path, check=0).stdout.splitlines()
    assert job == [line.removeprefix("[s.a.chatty] ") for line in whole[-3:]]
    assert coops("logs", "1", "--tail", "0", home=tmp_path, check=0).stdout == ""
    stamped = coops("logs", "1", "-t", "--tail", "2", home=tmp_path, check=0).stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == whole[-2:]
    assert all(datetime.fromisoformat(line.split(" ", 1)[0]).tzinfo is not None for line in stamped)
    refused = coops("logs", "1", "--tail", "-1", home=tmp_path)
    assert refused.returncode == 2 and "--tail" in refused.stderr


def test_logs_grep_context_no_color_and_download(tmp_path: Path) -> None:
    script = (
        "printf 'one\\n\\033[31mpanic\\033[0m: two\\nthree\\nfour\\nfive\\n'; printf 'PANIC on stderr\\n' >&2"
    )
    flow = write(
        tmp_path,
        "uri: test/logs/grep\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        f"          - {{name: j, command: [sh, -c, {json.dumps(script)}]}}\n",
    )
    coops("run", str(flow), "--executor", "local", home=tmp_path, check=0)
    found = coops("logs", "1", "--grep", "(?i)panic", home=tmp_path, check=0).stdout
    assert found == "[s.a.j] \x1b[31mpanic\x1b[0m: two\n[s.a.j] ! PANIC on stderr\n"
    plain = coops("logs", "1", "-g", "^one|five", "-C", "1", "--no-color", "--job", "s.a.j", home=tmp_path)
    assert plain.stdout == "one\npanic: two\n--\nfour\nfive\n! PANIC on stderr\n"
    assert coops("logs", "1", "-g", "nothing", home=tmp_path, check=0).stdout == ""
    refused = coops("logs", "1", "-g", "a{1001}", home=tmp_path)
    assert refused.returncode == 2 and "bad pattern" in refused.stderr
    assert coops("logs", "1", "-g", "x", "-f", home=tmp_path).returncode == 2
    assert coops("logs", "1", "-C", "2", home=tmp_path).returncode == 2
    saved = tmp_path / "run.log"
    coops("logs", "1", "--download", str(saved), home=tmp_path, check=0)
    assert saved.read_text() == coops("logs", "1", home=tmp_path, check=0).stdout
    coops("logs", "1", "--download", str(saved), "--no-color", home=tmp_path, check=0)
    assert "\x1b" not in saved.read_text() and "panic: two" in saved.read_text()


def test_gc_removes_the_lines_of_runs_ended_long_enough_ago(tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        "uri: test/logs/gc\nstages:\n  - name: s\n    actions:\n      - name: a\n        jobs:\n"
        "          - {name: j, command: [seq, '1', '5000']}\n",
    )
    coops("run", str(flow), "--executor", "local", home=tmp_path, check=0)
    kept = coops("gc", "--older-than", "1h", home=tmp_path, check=0)
    assert "removed 0 log lines" in kept.stderr
    time.sleep(1.2)
    dry = coops("gc", "--older-than", "1s", "--dry-run", home=tmp_path, check=0)
    assert "would remove 5,000 log lines (1 blocks) of 1 runs" in dry.stderr
    assert len(coops("logs", "1", home=tmp_path, check=0).stdout.splitlines()) == 5000
    other = coops("gc", "--older-than", "1s", "--flow", "test/logs/other", home=tmp_path, check=0)
    assert "removed 0 log lines" in other.stderr
    done = coops("gc", "--older-than", "1s", "--flow", "test/logs/gc", home=tmp_path, check=0)
    assert "removed 5,000 log lines (1 blocks) of 1 runs" in done.stderr and "KiB -> 0.0 KiB" in done.stderr
    assert coops("logs", "1", home=tmp_path, check=0).stdout == ""
    assert "success" in coops("runs", "show", "1", home=tmp_path, check=0).stdout  # the run stays
    for bad in ("soon", "0"):
        refused = coops("gc", "--older-than", bad, home=tmp_path)
        assert refused.returncode == 2 and "--older-than" in refused.stderr
