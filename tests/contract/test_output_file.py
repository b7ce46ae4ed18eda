"""The ``CO_OUTPUT`` file: ``KEY=value`` lines and ``KEY<<DELIMITER`` blocks."""

from __future__ import annotations

import pytest

from containerops.contract.cout import OutputError
from containerops.contract.output_file import MAX_FILE_BYTES, parse_output_file


def test_plain_lines_and_blocks_of_several_lines() -> None:
    data = b"A=1\nB=x=y\r\n\nNOTES<<END\nfirst\n\nthird\nEND\nC=\n"
    assert parse_output_file(data) == [("A", "1"), ("B", "x=y"), ("NOTES", "first\n\nthird"), ("C", "")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"A=1\njust words\n", "CO_OUTPUT line 2: not KEY=value nor KEY<<DELIMITER: 'just words'"),
        (b"N<<EOF\nnever closed\n", "CO_OUTPUT line 1: 'EOF' that ends N never comes"),
        (b"1A=x\n", "CO_OUTPUT line 1: not KEY=value"),
        (b"A=" + b"x" * MAX_FILE_BYTES, "CO_OUTPUT is over"),
    ],
)
def test_a_wrong_file_says_which_line(data: bytes, message: str) -> None:
    with pytest.raises(OutputError, match=message.replace("(", r"\(")) as raised:
        parse_output_file(data)
    assert message in str(raised.value)
