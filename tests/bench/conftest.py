"""The bench helpers live in bench/ (scripts, not a package): make them importable."""

from __future__ import annotations

import sys

from tests.conftest import ROOT

BENCH = ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
