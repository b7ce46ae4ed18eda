"""library/python-lint: flake8 over the workspace; counts, a JSON report, and a verdict.

The report is printed as ``[COUT] CO_JSON_CONTENT {json}``, the form the original
ContainerOps components used, so that dashboards reading it keep working. It is
kept under the contract's 64 KiB a value by listing fewer findings (the counts
stay exact and ``truncated`` says so).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path, PurePosixPath

from containerops import sdk

FINDING = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<column>\d+): (?P<code>[A-Z]+[0-9]+) (?P<message>.*)$")
MAX_REPORT = 60 * 1024


def flag(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def main() -> None:
    folder = sdk.input("path", ".") or "."
    relative = PurePosixPath(folder)
    if relative.is_absolute() or ".." in relative.parts:
        sdk.fail(f"path {folder!r} must be inside the workspace (a relative path without '..')")
    workspace = Path(os.environ.get("CO_WORKSPACE") or "/workspace")
    target = workspace / relative
    if not target.exists():
        sdk.fail(f"{target} does not exist: clone or copy the sources into the workspace first")
    command = ["flake8", "--exit-zero", f"--max-line-length={int(sdk.input('max-line-length', '79') or 79)}"]
    for option in ("select", "ignore", "exclude"):
        value = (sdk.input(option, "") or "").strip()
        if value:
            command.append(f"--{option}={value}")
    command.append(".")
    print(f"$ {' '.join(command)}  (in {target})", flush=True)
    done = subprocess.run(command, cwd=target, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr, flush=True)
        sdk.fail(f"flake8 could not run (exit {done.returncode})")
    findings = []
    for line in done.stdout.splitlines():
        print(line)
        match = FINDING.match(line)
        if match:
            item = match.groupdict()
            item["file"] = item["file"].removeprefix("./")
            findings.append({**item, "line": int(item["line"]), "column": int(item["column"])})
    codes = Counter(f["code"] for f in findings)
    warnings = sum(n for code, n in codes.items() if code.startswith("W"))
    files = sorted({f["file"] for f in findings})
    checked = [p for p in target.rglob("*.py") if not any(part.startswith(".") for part in p.parts)]
    report = {
        "tool": "flake8",
        "path": folder,
        "findings_count": len(findings),
        "files_checked": len(checked),
        "files_with_findings": files,
        "by_code": dict(sorted(codes.items())),
        "findings": findings,
        "truncated": False,
    }
    text = json.dumps(report, separators=(",", ":"))
    while len(text.encode()) > MAX_REPORT and report["findings"]:
        report["findings"] = findings[: len(report["findings"]) // 2]  # type: ignore[arg-type]
        report["truncated"] = True
        text = json.dumps(report, separators=(",", ":"))
    print(f"[COUT] CO_JSON_CONTENT {text}", flush=True)
    sdk.set_output("CO_FINDINGS", len(findings))
    sdk.set_output("CO_ERRORS", len(findings) - warnings)
    sdk.set_output("CO_WARNINGS", warnings)
    sdk.set_output("CO_FILES_CHECKED", len(checked))
    print(f"{len(findings)} finding(s) in {len(files)} of {len(checked)} file(s)", flush=True)
    if findings and flag(sdk.input("fail-on-findings", "true") or "true"):
        print("failing because of the findings (set fail-on-findings: false to only report them)")
        sdk.result(False)
        raise SystemExit(1)
    sdk.result(True)


if __name__ == "__main__":
    main()
