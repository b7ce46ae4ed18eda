"""bench/run: discovering benchmarks, and writing latest.json, the report and its plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _report import render, verdict, write
from _runner import discover, run_one, select

NOT_RUN = "could not run here: no docker"
CRASHED = "exited 1 without writing its JSON"


def _summary() -> dict[str, object]:
    return {
        "started_at": "2026-11-26 17:00 UTC",
        "quick": True,
        "commit": "abc1234",
        "total_seconds": 12.0,
        "machine": {"cpus": 2, "platform": "Linux", "python": "3.11.7", "load_before": "1.00"},
        "benchmarks": [
            {
                "benchmark": "fast",
                "exit_code": 0,
                "seconds": 3.0,
                "results": {"ms_per_job": 0.25, "lines_per_second": 123456.0},
                "targets": {"ms_per_job": {"target": 1.0, "op": "<", "pass": True}},
                "series": {
                    "Time per job": {"x": [100, 1000], "lines": {"sequence": [0.3, 0.2]}, "logx": True}
                },
            },
            {
                "benchmark": "slow",
                "exit_code": 1,
                "seconds": 5.0,
                "results": {"ratio": 1.3},
                "targets": {"ratio": {"target": 1.1, "op": "<=", "pass": False}},
            },
            {
                "benchmark": "nodocker",
                "exit_code": 2,
                "seconds": 0.5,
                "error": "could not run here: no docker",
            },
            {
                "benchmark": "crashed",
                "exit_code": 1,
                "seconds": 0.5,
                "error": "exited 1 without writing its JSON",
            },
        ],
    }


def test_verdicts() -> None:
    entries = _summary()["benchmarks"]
    assert [verdict(entry) for entry in entries] == ["PASS", "FAIL", "NOT RUN", "ERROR"]  # type: ignore[attr-defined]


def test_report_lists_every_target_and_plot(tmp_path: Path) -> None:
    (tmp_path / "stale.png").write_bytes(b"old")
    report = write(_summary(), tmp_path)  # type: ignore[arg-type]
    text = report.read_text()
    assert "| fast | ms_per_job | 0.25 | < 1 | PASS |" in text
    assert "| slow | ratio | 1.3 | <= 1.1 | **FAIL** |" in text
    assert "NOT RUN: could not run here: no docker" in text
    assert "### crashed: ERROR" in text
    assert "| lines_per_second | 123,456 |" in text
    pngs = sorted(path.name for path in tmp_path.glob("*.png"))
    assert pngs == ["fast-time-per-job.png"]
    assert (tmp_path / "fast-time-per-job.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![Time per job](fast-time-per-job.png)" in text
    assert json.loads((tmp_path / "latest.json").read_text()) == _summary()


def test_render_without_plots() -> None:
    text = render(_summary(), {})  # type: ignore[arg-type]
    assert text.startswith("# ContainerOps benchmarks")
    assert "![" not in text


def test_discovery_follows_the_convention(tmp_path: Path) -> None:
    for name in ("b_bench.py", "a_bench.py", "_helper.py", "notes.md"):
        (tmp_path / name).write_text("")
    found = discover(tmp_path)
    assert [path.name for path in found] == ["a_bench.py", "b_bench.py"]
    assert [path.name for path in select(found, ["b_bench"], [])] == ["b_bench.py"]
    assert [path.name for path in select(found, [], ["b_bench"])] == ["a_bench.py"]
    with pytest.raises(SystemExit):
        select(found, ["nope"], [])


def test_the_real_benchmarks_are_discovered() -> None:
    names = {path.stem for path in discover(Path(__file__).resolve().parents[2] / "bench")}
    assert {
        "engine_overhead",
        "docker_chain",
        "docker_fanout",
        "peer_prefect",
        "log_lines",
        "engine_memory",
    } <= names


def test_run_one_collects_the_json_and_reports_scripts_that_write_none(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text(
        "import json, sys\n"
        "path = sys.argv[sys.argv.index('--json') + 1]\n"
        "quick = '--quick' in sys.argv\n"
        "print('good.quick:', quick)\n"
        "json.dump({'benchmark': 'good', 'results': {'quick': quick}, 'targets': {}}, open(path, 'w'))\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nprint('boom')\nsys.exit(1)\n")
    entry = run_one(good, True, tmp_path / "raw", timeout=60)
    assert entry["results"] == {"quick": True} and entry["exit_code"] == 0 and "error" not in entry
    assert verdict(entry) == "PASS"
    failed = run_one(bad, False, tmp_path / "raw", timeout=60)
    assert failed["exit_code"] == 1 and "without writing its JSON" in failed["error"]
    assert failed["output_tail"] == ["boom"]
    assert verdict(failed) == "ERROR"
    assert "--quick" not in failed["command"] and "--quick" in entry["command"]


def test_a_benchmark_whose_targets_break_the_convention_is_an_error_not_a_crash(tmp_path: Path) -> None:
    odd = tmp_path / "odd.py"
    odd.write_text(
        "import json, sys\n"
        "path = sys.argv[sys.argv.index('--json') + 1]\n"
        "doc = {'benchmark': 'odd', 'results': {'p99': 3.0}, 'targets': {'p99': 250.0}}\n"
        "json.dump(doc, open(path, 'w'))\n"
    )
    entry = run_one(odd, True, tmp_path / "raw", timeout=60)
    assert "does not follow the convention" in entry["error"] and verdict(entry) == "ERROR"
    assert "odd" in render({"benchmarks": [entry]}, {})
