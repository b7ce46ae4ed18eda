"""Log text: ANSI escape sequences taken out (the text around them kept), prefixes."""

from __future__ import annotations

import pytest

from containerops.logtext import line_prefix, prefixed_runs, strip_ansi


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("\x1b[31merror\x1b[0m: bad", "error: bad"),
        ("\x1b[1;38;5;208mbold orange\x1b[m", "bold orange"),
        ("50%\x1b[2K\x1b[1Gdone", "50%done"),
        ("\x1b]8;;https://x.example\x07link\x1b]8;;\x07", "link"),
        ("\x1b]0;title\x1b\\text", "text"),
        ("\x1bMup", "up"),
        ("no escapes [31m here", "no escapes [31m here"),
        ("", ""),
    ],
)
def test_escapes_go_and_text_stays(raw: str, plain: str) -> None:
    assert strip_ansi(raw) == plain


def test_runs_get_their_prefix_on_every_line() -> None:
    runs = [("s.a.j", 1, "stdout", "one\ntwo"), ("s.a.k", 2, "stderr", "three"), ("s.a.j", 1, "stdout", "")]
    assert prefixed_runs(runs, with_job=True) == "[s.a.j] one\n[s.a.j] two\n[s.a.k#2] ! three\n[s.a.j] \n"
    assert prefixed_runs(runs, with_job=False) == "one\ntwo\n! three\n\n"
    assert line_prefix("s.a.j", 3, "stdout", with_job=True) == "[s.a.j#3] "
