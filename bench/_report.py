"""bench/run's output: ``latest.json`` (every benchmark's JSON plus how it ran) and a
Markdown report with a PNG plot of every series a benchmark gave."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

VERDICTS = {0: "PASS", 1: "FAIL", 2: "NOT RUN"}


def verdict(entry: dict[str, Any]) -> str:
    """PASS / FAIL / NOT RUN (could not run here) / ERROR (crashed, or no JSON)."""
    code = entry.get("exit_code")
    if entry.get("error") and code != 2:
        return "ERROR"
    if code in VERDICTS and (code == 2 or "results" in entry):
        return VERDICTS[code]
    return "ERROR"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "plot"


def plot_series(benchmark: str, title: str, curve: dict[str, Any], out_dir: Path) -> Path:
    """One PNG of a series: ``x`` against each of ``lines``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=100)
    try:
        for label, values in curve["lines"].items():
            axes.plot(curve["x"], values, marker="o", label=label)
        if curve.get("logx"):
            axes.set_xscale("log")
        if curve.get("logy"):
            axes.set_yscale("log")
        axes.set_title(title, fontsize=11)
        axes.set_xlabel(curve.get("xlabel", ""))
        axes.set_ylabel(curve.get("ylabel", ""))
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        figure.tight_layout()
        path = out_dir / f"{benchmark}-{slug(title)}.png"
        figure.savefig(path)
    finally:
        plt.close(figure)
    return path


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(summary: dict[str, Any], plots: dict[str, list[tuple[str, str]]]) -> str:
    """The Markdown report of a bench/run summary; ``plots`` maps a benchmark to (title, file)."""
    machine = summary.get("machine", {})
    mode = "quick (`bench/run --quick`)" if summary.get("quick") else "full (`bench/run`)"
    lines = [
        "# ContainerOps benchmarks",
        "",
        f"Run {summary.get('started_at', '?')}, {mode}, commit `{summary.get('commit', '?')}`, "
        f"{summary.get('total_seconds', 0):.0f} s in all.",
        f"Machine: {machine.get('cpus', '?')} CPUs, {machine.get('platform', '?')}, "
        f"Python {machine.get('python', '?')}; load average before: {machine.get('load_before', '?')}, "
        f"after: {machine.get('load_after', '?')}.",
        "",
        "## Targets",
        "",
        "| benchmark | metric | measured | target | verdict |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for entry in summary["benchmarks"]:
        name = entry["benchmark"]
        targets = entry.get("targets") or {}
        if not targets:
            why = entry.get("error") or "; ".join(entry.get("failures", [])) or "no target"
            lines.append(f"| {name} | | | | {verdict(entry)}: {why} |")
        for metric, target in targets.items():
            measured = _value(entry["results"].get(metric))
            state = "PASS" if target["pass"] else "**FAIL**"
            lines.append(
                f"| {name} | {metric} | {measured} | {target['op']} {_value(target['target'])} | {state} |"
            )
    lines += ["", "## Benchmarks", ""]
    for entry in summary["benchmarks"]:
        name = entry["benchmark"]
        lines += [f"### {name}: {verdict(entry)} ({entry.get('seconds', 0):.0f} s)", ""]
        if entry.get("error"):
            lines += [f"Error: {entry['error']}", ""]
        for failure in entry.get("failures", []):
            lines += [f"- did not do its work: {failure}"]
        for title, file in plots.get(name, []):
            lines += [f"![{title}]({file})", ""]
        results = entry.get("results") or {}
        if results:
            lines += ["| metric | value |", "| --- | ---: |"]
            lines += [f"| {metric} | {_value(value)} |" for metric, value in results.items()]
            lines.append("")
    return "\n".join(lines) + "\n"


def write(summary: dict[str, Any], out_dir: Path) -> Path:
    """Write latest.json, the plots and report.md into ``out_dir``; return the report's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    (out_dir / "latest.json").write_text(json.dumps(summary, indent=2) + "\n")
    plots: dict[str, list[tuple[str, str]]] = {}
    for entry in summary["benchmarks"]:
        for title, curve in (entry.get("series") or {}).items():
            path = plot_series(entry["benchmark"], title, curve, out_dir)
            plots.setdefault(entry["benchmark"], []).append((title, path.name))
    report = out_dir / "report.md"
    report.write_text(render(summary, plots))
    return report
