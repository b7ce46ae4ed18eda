"""The log blocks' trigram filter (``loggrams``): it never turns away a block RE2 would
find a match in (case folding to non-ASCII letters included), it does turn away blocks
without what a pattern needs, and patterns it cannot read need nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from containerops.store import loggrams
from containerops.store.logsearch import compile_pattern

PATTERNS = [
    "(?i)panic|data race",
    "data race",
    "(?i)disk full",
    "(?i)KISS",
    "Kelvin",
    "héllo wörld",
    "(?i)héllo",
    "(?i:abc)def",
    "abc(?-i:def)",
    "fo(obar)+baz",
    "(abc|abd)xyz",
    "a{3}bcd",
    "x.*yzw",
    "^start of it",
    "end of it$",
    "(ab)*cde",
    "(?s)ghi.jkl",
]
ALPHABET = "abcdeiklnoprstuwxyzABCDEIKLNOPRSTUWXYZ \n\u212a\u017féÉöÖ.*"
FILLER = "\n" + "filler without much in it " * 200  # long enough to get a filter


def _sound(pattern: str, text: str) -> None:
    body = (text + FILLER).encode()
    grams = loggrams.build(body)
    assert grams is not None
    if compile_pattern(pattern).search(body):
        assert loggrams.Filter(grams).may_hold(loggrams.need_of(pattern)), (pattern, text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS), st.text(alphabet=ALPHABET, max_size=60))
def test_the_filter_never_turns_away_a_block_holding_a_match(pattern: str, text: str) -> None:
    _sound(pattern, text)


def test_folding_to_non_ascii_letters_is_allowed_for() -> None:
    for pattern, text in [
        ("(?i)KISS", "\u212aI\u017f\u017f"),  # Kelvin sign and long s match k and s under (?i)
        ("(?i)disk full", "DIS\u212a FULL"),
        ("(?i)héllo", "HÉLLO"),
        ("(?i)panic|data race", "DATA RACE"),
        ("(?i:abc)def", "ABCdef"),
    ]:
        _sound(pattern, text)
        assert compile_pattern(pattern).search(text.encode())


def test_blocks_without_what_a_pattern_needs_are_turned_away() -> None:
    body = "\n".join(f"compiling module {n} of a job that prints a lot" for n in range(2000)).encode()
    block = loggrams.Filter(loggrams.build(body) or b"")
    for pattern in ["(?i)panic|data race", "data race", "(?i)disk full", "modules", "job (that|which) crash"]:
        assert not block.may_hold(loggrams.need_of(pattern)), pattern
    for pattern in ["(?i)PANIC|COMPILING", "module 1999 ", "job (that|which) prints", "a lot$"]:
        assert block.may_hold(loggrams.need_of(pattern)), pattern


def test_what_cannot_be_read_needs_nothing() -> None:
    for pattern in ["[[:alpha:]]xyz", r"\pLxyz", r"\Qxyz\E", "a(?i)bcdef", "(?U)abcdef", "abc|de", "x?yz"]:
        assert loggrams.need_of(pattern).nothing, pattern


def test_short_texts_get_no_filter_and_sizes_follow_the_text() -> None:
    assert loggrams.build(b"short") is None
    small = loggrams.build(b"x" * 5000)
    large = loggrams.build(bytes(range(256)) * 20_000)
    assert small is not None and large is not None
    assert loggrams.MIN_BITS < 1 << small[0] <= 5000 * loggrams.BITS_PER_BYTE < 2 << small[0]
    assert 1 << large[0] == loggrams.MAX_BITS
