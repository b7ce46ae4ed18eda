"""The UI's own unit tests (vitest, ui/src/*.test.ts), run as part of the Python suite so
that CI runs them: the run graph's layout and state colouring."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.ui.conftest import REPO


def test_vitest_suite_passes(browser_tools: None, tmp_path: Path) -> None:
    report = tmp_path / "vitest.json"
    done = subprocess.run(
        ["npx", "--no-install", "vitest", "run", "--reporter=json", f"--outputFile={report}"],
        cwd=REPO / "ui",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"vitest failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    result = json.loads(report.read_text())
    failed = [
        f"{test['fullName']}: {test['failureMessages']}"
        for suite in result["testResults"]
        for test in suite["assertionResults"]
        if test["status"] != "passed"
    ]
    assert failed == []
    assert result["numPassedTests"] >= 5 and result["numTotalTestSuites"] >= 1
