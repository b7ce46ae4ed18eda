"""Secret values never reach the store in clear, whatever a job prints."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

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


SECRET = 'p@ss "word"/with+odd&chars é'


def _encodings(secret: str) -> dict[str, str]:
    """How tools commonly print a secret: each must be masked."""
    raw = secret.encode()
    return {
        "json": json.dumps({"token": secret}),
        "json-ascii": json.dumps({"token": secret}, ensure_ascii=True),
        "url": "https://x.example/?t=" + quote(secret, safe=""),
        "form": "t=" + quote_plus(secret),
        "base64": base64.b64encode(raw).decode(),
        "base64-url": base64.urlsafe_b64encode(raw).decode(),
        # inside a longer base64 text, at each of the three alignments
        "basic-auth-1": base64.b64encode(b"u:" + raw + b"!").decode(),
        "basic-auth-2": base64.b64encode(b"us:" + raw).decode(),
        "basic-auth-3": base64.b64encode(b"use:" + raw + b"xy").decode(),
    }


def test_masker_masks_the_encoded_forms_of_a_secret() -> None:
    masker = Masker([SECRET])
    for name, text in _encodings(SECRET).items():
        masked = masker.mask(text)
        assert MASK in masked, name
        for form_name, form in _encodings(SECRET).items():
            # what is left never holds the fragment that encodes the secret
            if not form_name.startswith("basic-auth"):
                assert form not in masked, (name, form_name)


def test_masker_leaves_other_base64_alone() -> None:
    masker = Masker([SECRET])
    other = base64.b64encode(b"an ordinary value of some length, nothing secret").decode()
    assert masker.mask(other) == other


def test_every_encoded_form_printed_by_a_job_is_stored_masked(store: Store) -> None:
    forms = _encodings(SECRET)
    script = "".join(f"printf '%s\\n' {_sh(text)}\n" for text in forms.values())
    script += f"printf '[COUT] BLOB = %s\\n' {_sh(forms['json'])}\n"
    job = {"name": "leak", "command": ["sh", "-c", script]}
    flow = simple_flow([stage("s", action("a", job))])

    state = run_flow(store, "local", flow, on_engine=lambda engine: engine.masker.add(SECRET))

    assert state.status == "success"
    lines = [row.line for row in store.log_lines(state.id)]
    assert len(lines) == len(forms) + 1
    for line, (name, text) in zip(lines, forms.items(), strict=False):
        assert line != text and MASK in line, name
    assert MASK in state.jobs["s.a.leak"].outputs["BLOB"]
    for text in forms.values():
        assert text not in state.jobs["s.a.leak"].outputs["BLOB"]


def _sh(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
