"""Fuzzing the flow loader: any text gives a flow or diagnostics with positions, never
another exception (a traceback in the CLI, a 500 in the API).

Mutations of the 80 original pilotage flows and of our examples: bytes cut, inserted
(YAML's special characters, deep nesting, anchors and aliases, odd Unicode), lines
repeated or swapped. Bounded by example count so that the suite stays fast; the
100,000-case run is ``bench/fuzz_flows.py``.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from containerops.model.diagnostics import FlowInvalid
from containerops.model.loader import parse_flow
from tests.conftest import ROOT
from tests.flowmutations import mutated

PILOTAGE = ROOT.parent / "shared" / "compat" / "pilotage"
SOURCES = sorted(PILOTAGE.glob("*.y*ml")) + sorted((ROOT / "examples").glob("*.y*ml"))


def test_the_corpus_is_there() -> None:
    assert len([p for p in SOURCES if p.parent == PILOTAGE]) == 80, f"expected the 80 flows in {PILOTAGE}"


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_flow_is_a_flow_or_positioned_diagnostics(data: st.DataObject) -> None:
    source: Path = data.draw(st.sampled_from(SOURCES))
    text = data.draw(mutated(source.read_text()))
    try:
        parse_flow(text, "fuzzed.yaml")
    except FlowInvalid as invalid:
        errors = [d for d in invalid.diagnostics if d.severity == "error"]
        assert errors, "FlowInvalid without an error"
        for diagnostic in errors:
            assert diagnostic.line is not None and diagnostic.line >= 1, diagnostic
            assert diagnostic.file == "fuzzed.yaml", diagnostic
