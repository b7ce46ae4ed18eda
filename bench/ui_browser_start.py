#!/usr/bin/env python3
"""What tests/ui's one chromium per session saves each test: a whole ``node`` process
(ui/e2e/open_close.mjs: a browser, a context and a page on about:blank, closed), timed
from start to exit, that either starts its own chromium (``launch``, as every tests/ui
script did) or connects to one already running (``connect``: ui/e2e/browser_server.mjs,
started once beforehand and not timed, as tests/ui's session fixture does now).

Sides alternate, 7 rounds (``--quick`` 3) after a warm-up round. Medians in ms of the whole
process (``*_ms``) and of its browser part alone (``*_browser_ms``: from after the import of
playwright-core to the end), and ``saved_ms_per_test`` (launch minus connect, whole process).

    .venv/bin/python bench/ui_browser_start.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _benchlib import Results, add_standard_args, alternate, median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.ui.browser_server starts the shared chromium
from tests.ui.browser_server import browser_server  # noqa: E402

NAME = "ui_browser_start"
E2E = ROOT / "ui" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def node(script: str, env: dict[str, str], inner: list[float]) -> float:
    """The whole process's time (ms); its browser part is appended to ``inner``."""
    start = time.perf_counter()
    done = subprocess.run(["node", str(E2E / script)], env=env, capture_output=True, text=True, timeout=120)
    took = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{script} failed:\n{done.stderr}")
    inner.append(float(json.loads(done.stdout.strip().splitlines()[-1])["browserMs"]))
    return took


def main() -> int:
    parser = add_standard_args(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file() or shutil.which("node") is None:
        print(f"# {NAME}: cannot run here: needs node and chromium at {CHROMIUM}")
        return 2
    base = {**os.environ, "CHROMIUM": CHROMIUM}
    base.pop("COOPS_UI_BROWSER_WS", None)
    inner: dict[str, list[float]] = {"launch": [], "connect": []}
    with browser_server(CHROMIUM) as endpoint:  # started once, not timed, as tests/ui does
        shared = {**base, "COOPS_UI_BROWSER_WS": endpoint}
        kept = alternate(
            {
                "launch": lambda: node("open_close.mjs", base, inner["launch"]),
                "connect": lambda: node("open_close.mjs", shared, inner["connect"]),
            },
            rounds=3 if args.quick else 7,
            warmup=1,
        )
    results = Results(NAME)
    launch, connect = median(kept["launch"]), median(kept["connect"])
    results.add("launch_ms", launch, 0)
    results.add("connect_ms", connect, 0)
    results.add("saved_ms_per_test", launch - connect, 0)
    for side in ("launch", "connect"):  # the warm-up round's first: not kept, as alternate() does
        results.add(f"{side}_browser_ms", median(inner[side][1:]), 0)
    results.add("load1", os.getloadavg()[0], 2)
    return results.finish(args.json)


if __name__ == "__main__":
    sys.exit(main())
