"""Reading outputs and the verdict from log lines."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from containerops import sdk
from containerops.contract import OutputError, Outputs, parse_cout


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("[COUT] KEY = value", ("KEY", "value")),
        ("[COUT] KEY=value", ("KEY", "value")),
        ("[COUT]KEY =value", ("KEY", "value")),
        ("[COUT] URL = a=b=c", ("URL", "a=b=c")),
        ("[COUT] MSG = two words = ok", ("MSG", "two words = ok")),
        ('[COUT] CO_JSON_CONTENT {"errors": 0}', ("CO_JSON_CONTENT", '{"errors": 0}')),
        ("[COUT] EMPTY =", ("EMPTY", "")),
        ("  [COUT] INDENTED = yes  ", ("INDENTED", "yes")),
        ("plain log line", None),
        ("[COUT]", None),
        ("[COUT] 9BAD = x", None),
        ("said [COUT] X = 1 in the middle", None),
    ],
)
def test_parse_cout(line: str, expected: tuple[str, str] | None) -> None:
    assert parse_cout(line) == expected


def test_result_and_values() -> None:
    outputs = Outputs()
    for line in ["hello", "[COUT] A = 1", "[COUT] A = 2", "[COUT] CO_RESULT = false"]:
        outputs.feed(line)
    assert outputs.values == {"A": "2"}
    assert outputs.result is False
    outputs.feed("[COUT] CO_RESULT = true")
    assert outputs.result is True


def test_value_limit() -> None:
    outputs = Outputs()
    outputs.feed("[COUT] OK = " + "x" * 65536)
    with pytest.raises(OutputError, match="output BIG is 65537 bytes, over the limit of 65536 bytes"):
        outputs.feed("[COUT] BIG = " + "x" * 65537)


def test_total_limit_counts_replaced_values_once() -> None:
    outputs = Outputs()
    chunk = "x" * 60000
    for _ in range(40):  # replacing the same key never adds up
        outputs.feed(f"[COUT] SAME = {chunk}")
    for i in range(16):  # 17 values of 60,000 bytes: 1,020,000 bytes, under 1 MiB
        outputs.feed(f"[COUT] K{i} = {chunk}")
    with pytest.raises(
        OutputError, match=r"outputs add up to \d+ bytes, over the limit of 1048576 bytes \(1 MiB\)"
    ):
        outputs.feed(f"[COUT] LAST = {chunk}")


@given(
    st.text(
        alphabet=st.characters(exclude_characters="\r\n\x00", exclude_categories=("Cs", "Zs", "Cc")),
        max_size=40,
    )
)
def test_sdk_output_round_trips(value: str) -> None:
    out = io.StringIO()
    sdk.set_output("CO_X", value, stream=out)
    assert parse_cout(out.getvalue().rstrip("\n")) == ("CO_X", value.strip())


def test_sdk_refuses_line_breaks_and_bad_names() -> None:
    with pytest.raises(ValueError, match="line break"):
        sdk.set_output("A", "two\nlines", stream=io.StringIO())
    with pytest.raises(ValueError, match="invalid output name"):
        sdk.set_output("bad name", "x", stream=io.StringIO())


def test_sdk_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CO_DATA", "git-url=https://x/y.git msg='two words = ok'")
    monkeypatch.setenv("CO_GIT_URL", "https://exact/value.git")
    monkeypatch.delenv("CO_MSG", raising=False)
    assert sdk.input("git-url") == "https://exact/value.git"
    assert sdk.input("msg") == "two words = ok"
    assert sdk.input("absent", "dflt") == "dflt"
    with pytest.raises(SystemExit):
        sdk.input("absent", required=True)
