"""The helpers every benchmark shares: medians, alternation, targets, the result JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _benchlib import BenchError, Results, alternate, median, paired_ratio, ratio, rotation, run_in_home


def test_median_and_ratios() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    assert ratio([2.0, 4.0, 3.0], [1.0, 1.0, 2.0]) == 3.0
    # paired: each round's own ratio, then their median
    assert paired_ratio([2.0, 9.0, 3.0], [1.0, 3.0, 1.0]) == 3.0
    with pytest.raises(ValueError):
        median([])
    with pytest.raises(ValueError):
        paired_ratio([1.0], [1.0, 2.0])


def test_rotation_gives_every_side_every_place() -> None:
    names = ["a", "b", "c"]
    orders = [rotation(names, number) for number in range(3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert {order[0] for order in orders} == set(names)


def test_alternate_runs_sides_in_rotating_order_and_drops_the_warmup() -> None:
    calls: list[str] = []
    counter = {"ours": 0.0, "theirs": 100.0}

    def side(name: str) -> float:
        calls.append(name)
        counter[name] += 1
        return counter[name]

    logged: list[str] = []
    kept = alternate(
        {"ours": lambda: side("ours"), "theirs": lambda: side("theirs")},
        rounds=3,
        warmup=1,
        log=logged.append,
    )
    assert calls == ["ours", "theirs", "theirs", "ours", "ours", "theirs", "theirs", "ours"]
    assert kept == {"ours": [2.0, 3.0, 4.0], "theirs": [102.0, 103.0, 104.0]}
    assert logged[0].startswith("# warm-up 1") and logged[1].startswith("# round 1")
    with pytest.raises(ValueError):
        alternate({"a": lambda: 1.0}, rounds=0)


def test_results_print_check_targets_and_write_json(tmp_path: Path) -> None:
    printed: list[str] = []
    results = Results("demo", echo=printed.append)
    results.add("ms_per_job", 0.123456)
    results.add("ratio", 1.2)
    results.add("count", 7)
    assert printed[:3] == ["demo.ms_per_job: 0.123", "demo.ratio: 1.2", "demo.count: 7"]
    assert results.target("ms_per_job", "<", 1.0) is True
    assert results.target("ratio", "<=", 1.1) is False
    results.add_series("curve", x=[1, 2], lines={"a": [1.0, 2.0]})
    path = tmp_path / "out" / "demo.json"
    assert results.finish(path) == 1
    assert printed[-1].startswith("demo: FAIL (ratio 1.2 (target <= 1.1))")
    document = json.loads(path.read_text())
    assert document == {
        "benchmark": "demo",
        "results": {"ms_per_job": 0.123, "ratio": 1.2, "count": 7},
        "targets": {
            "ms_per_job": {"target": 1.0, "op": "<", "pass": True},
            "ratio": {"target": 1.1, "op": "<=", "pass": False},
        },
        "series": {"curve": {"x": [1, 2], "lines": {"a": [1.0, 2.0]}}},
    }


def test_a_run_that_did_not_do_its_work_fails_whatever_its_figures() -> None:
    printed: list[str] = []
    results = Results("demo", echo=printed.append)
    results.add("x", 1.0)
    results.target("x", ">=", 0.5)
    assert results.passed
    results.fail("the store lost a line")
    assert not results.passed
    assert results.finish(None) == 1
    assert "the store lost a line" in printed[-1]
    assert results.to_json()["failures"] == ["the store lost a line"]


def test_bad_targets_are_refused() -> None:
    results = Results("demo", echo=lambda _line: None)
    with pytest.raises(KeyError):
        results.target("missing", "<", 1.0)
    results.add("text", "a, b")
    with pytest.raises(KeyError):
        results.target("text", "<", 1.0)
    results.add("x", 1.0)
    with pytest.raises(ValueError):
        results.target("x", "~", 1.0)
    with pytest.raises(ValueError):
        results.add("nan", float("nan"))


def test_start_server_waits_until_ready_and_says_why_one_did_not_start(tmp_path: Path) -> None:
    """The one start/poll of a ``coops server`` that the throughput benchmarks share."""
    import httpx
    from _benchlib import BenchError, start_server, stop_server

    env = {**os.environ, "COOPS_HOME": str(tmp_path / "home")}
    env.pop("COOPS_DATABASE_URL", None)
    process, url = start_server(["--executor", "dummy", "--log-level", "warning"], env)
    try:
        assert httpx.get(f"{url}/readyz", timeout=10).json() == {"status": "ready"}
    finally:
        stop_server(process)
    assert process.returncode is not None
    with pytest.raises(BenchError, match=r"did not start: (.|\n)*warp"):
        start_server(["--executor", "warp"], env)


def test_run_in_home_gives_a_fresh_home_records_a_bench_error_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COOPS_HOME", "/nowhere/outer")
    monkeypatch.setenv("COOPS_DATABASE_URL", "postgresql://outer")
    seen: list[Path] = []
    printed: list[str] = []

    def body(home: Path) -> None:
        seen.append(home)
        assert os.environ["COOPS_HOME"] == str(home)
        assert "COOPS_DATABASE_URL" not in os.environ
        (home / "store").write_text("x")
        results.add("figure", 1.0)
        raise BenchError("the job printed nothing")

    results = Results("frame", echo=printed.append)
    out = tmp_path / "frame.json"
    assert run_in_home(results, "coops-bench-test-", body, out) == 1
    assert seen and seen[0].name.startswith("coops-bench-test-") and not seen[0].exists()
    assert os.environ["COOPS_HOME"] == "/nowhere/outer"
    assert os.environ["COOPS_DATABASE_URL"] == "postgresql://outer"
    assert json.loads(out.read_text())["failures"] == ["the job printed nothing"]
    assert printed[-1].startswith("frame: FAIL (the job printed nothing")

    def passing(home: Path) -> None:
        results_ok.add("figure", 2.0)
        results_ok.target("figure", "<", 3.0)

    results_ok = Results("frame", echo=printed.append)
    assert run_in_home(results_ok, "coops-bench-test-", passing, None) == 0
