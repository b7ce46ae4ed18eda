"""Secret values never reach the store in clear, whatever a job prints."""

from __future__ import annotations

from containerops.engine.masking import MASK, Masker
from containerops.store import Store
from tests.engine.scenarios import action, run_flow, simple_flow, stage


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
