"""Secret values never reach the store in clear, whatever a job prints."""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

from containerops.engine import Engine
from containerops.engine.masking import MASK, Masker
from containerops.executors import get_executor
from containerops.model.loader import parse_flow
from containerops.store import Store
from tests.dbscan import assert_never_stored
from tests.engine import leak_forms
from tests.engine.leak_forms import encodings
from tests.engine.scenarios import action, flow_text, run_flow, simple_flow, stage


def test_masker_replaces_every_occurrence_longest_first() -> None:
    masker = Masker(["hunter2", "hunter2-and-more"])
    assert masker.mask("a hunter2 b hunter2-and-more c") == f"a {MASK} b {MASK} c"


def test_masker_masks_each_line_of_a_multiline_secret() -> None:
    masker = Masker(["line-one\nline-two"])
    assert masker.mask("x line-two y") == f"x {MASK} y"


def test_masker_ignores_values_too_short_to_be_secrets() -> None:
    masker = Masker(["ab", ""])
    assert not masker
    assert masker.mask("ab cd") == "ab cd"


def test_secret_printed_by_a_job_is_stored_masked(store: Store) -> None:
    secret = "s3cr3t-v@lue with spaces"
    job = {"name": "leak", "command": ["sh", "-c", f"echo 'token={secret}'; echo '[COUT] KEY = {secret}'"]}
    flow = simple_flow([stage("s", action("a", job))])

    state = run_flow(store, "local", flow, on_engine=lambda engine: engine.masker.add(secret))

    assert state.status == "success"
    lines = [row.line for row in store.log_lines(state.id)]
    assert f"token={MASK}" in lines
    assert all(secret not in line for line in lines)
    assert state.jobs["s.a.leak"].outputs == {"KEY": MASK}


SECRET = 'p@ss "word"/with+odd&chars é'


def test_masker_masks_the_encoded_forms_of_a_secret() -> None:
    masker = Masker([SECRET])
    for name, text in encodings(SECRET).items():
        masked = masker.mask(text)
        assert MASK in masked, name
        for form_name, form in encodings(SECRET).items():
            # what is left never holds the fragment that encodes the secret
            if not form_name.startswith("basic-auth"):
                assert form not in masked, (name, form_name)


def test_masker_leaves_other_base64_alone() -> None:
    masker = Masker([SECRET])
    other = base64.b64encode(b"an ordinary value of some length, nothing secret").decode()
    assert masker.mask(other) == other


def test_every_encoded_form_printed_by_a_job_is_stored_masked(store: Store) -> None:
    job = {
        "name": "leak",
        "command": [sys.executable, str(Path(leak_forms.__file__))],
        "environments": {"TOKEN": "${{ secrets.TOKEN }}"},
    }
    loaded = parse_flow(flow_text(simple_flow([stage("s", action("a", job))])), "leak.json")
    engine = Engine(store, get_executor("local"))
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format, secret_values={"TOKEN": SECRET})
    state = asyncio.run(engine.run())

    assert state.status == "success", state.reason
    forms = encodings(SECRET)
    lines = [row.line for row in store.log_lines(state.id)]
    assert len(lines) == len(forms) + 1
    for line, (name, text) in zip(lines, forms.items(), strict=False):
        assert line != text and MASK in line, name
    blob = state.jobs["s.a.leak"].outputs["BLOB"]
    assert MASK in blob and all(text not in blob for text in forms.values())
    assert_never_stored(SECRET)
