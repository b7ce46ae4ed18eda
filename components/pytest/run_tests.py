"""library/pytest: run the workspace's tests; output passed/failed/skipped/error counts.

Counts come from pytest's JUnit XML report rather than from its terminal summary,
whose wording changes between versions.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path, PurePosixPath

from containerops import sdk

NO_TESTS = 5  # pytest's exit code when it collected nothing


def counts(report: Path) -> dict[str, int]:
    root = ElementTree.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in total:
            total[key] += int(suite.get(key, "0"))
    return total


def main() -> None:
    folder = sdk.input("path", ".") or "."
    relative = PurePosixPath(folder)
    if relative.is_absolute() or ".." in relative.parts:
        sdk.fail(f"path {folder!r} must be inside the workspace (a relative path without '..')")
    workspace = Path(os.environ.get("CO_WORKSPACE") or "/workspace")
    target = workspace / relative
    if not target.is_dir():
        sdk.fail(f"{target} is not a folder: clone or copy the sources into the workspace first")
    extra = [line for line in (sdk.input("args", "") or "").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            "junit_family=xunit2",
            f"--junitxml={report}",
            *extra,
        ]
        print(f"$ {shlex.join(command)}  (in {target})", flush=True)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        code = subprocess.run(command, cwd=target, env=env).returncode
        if not report.exists():
            sdk.fail(f"pytest did not run (exit {code}): see the lines above")
        total = counts(report)
    failed, errors, skipped = total["failures"], total["errors"], total["skipped"]
    passed = total["tests"] - failed - errors - skipped
    sdk.set_output("CO_PASSED", passed)
    sdk.set_output("CO_FAILED", failed)
    sdk.set_output("CO_ERRORS", errors)
    sdk.set_output("CO_SKIPPED", skipped)
    sdk.set_output("CO_TOTAL", total["tests"])
    if code == NO_TESTS and (sdk.input("allow-no-tests", "false") or "") != "true":
        sdk.fail("pytest found no tests (set allow-no-tests: true if that is expected)")
    ok = failed == 0 and errors == 0 and code in (0, NO_TESTS)
    if not ok:
        print(f"{failed} failed, {errors} errors (pytest exit {code})", flush=True)
    sdk.result(ok)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
