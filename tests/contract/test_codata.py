"""CO_DATA encoding and decoding, and CO_<KEY> names."""

from __future__ import annotations

import shlex

from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from containerops.contract import decode_co_data, encode_co_data, input_env_name
from containerops.contract.codata import quote_value

keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,15}", fullmatch=True)
#: What a shell reads specially, drawn as often as all other characters together: a
#: value of random Unicode alone almost never holds a space or a quote.
SHELL_SIGNIFICANT = " \t\n'\"=\\$`;&|<>()*?[]#~!{}%"
# Environment variables cannot hold NUL; anything else must survive.
values = st.text(
    alphabet=st.one_of(
        st.sampled_from(SHELL_SIGNIFICANT),
        st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
    ),
    max_size=60,
)


@given(st.dictionaries(keys, values, max_size=8))
@example({"a": "abc\n"})  # a final newline once passed for a bare value, and was lost
@settings(max_examples=500)
def test_round_trip_through_shlex(inputs: dict[str, str]) -> None:
    for value in inputs.values():
        for char in set(value) & set(SHELL_SIGNIFICANT):
            event(f"a value holds {char!r}")
    encoded = encode_co_data(inputs)
    words = shlex.split(encoded)
    assert words == [f"{k}={v}" for k, v in inputs.items()]
    assert decode_co_data(encoded) == inputs


def test_simple_values_stay_bare_for_the_original_components() -> None:
    encoded = encode_co_data({"git-url": "https://github.com/a/b.git", "entry-path": ".", "n": "1"})
    assert encoded == "git-url=https://github.com/a/b.git entry-path=. n=1"
    assert encoded.split(" ") == ["git-url=https://github.com/a/b.git", "entry-path=.", "n=1"]


def test_values_with_spaces_quotes_and_equals_are_quoted() -> None:
    assert quote_value("two words") == "'two words'"
    assert quote_value("a=b") == "'a=b'"
    assert quote_value("it's") == "'it'\"'\"'s'"
    assert quote_value("") == "''"
    assert encode_co_data({"msg": "two words = ok"}) == "msg='two words = ok'"


def test_decode_tolerates_the_original_plain_form() -> None:
    assert decode_co_data("a=1 b=2 junk c=x=y") == {"a": "1", "b": "2", "c": "x=y"}
    assert decode_co_data("broken='unbalanced b=2") == {"broken": "'unbalanced", "b": "2"}


def test_input_env_names() -> None:
    assert input_env_name("git-url") == "CO_GIT_URL"
    assert input_env_name("a.b-c") == "CO_A_B_C"
    assert input_env_name("Msg") == "CO_MSG"
