"""Ways to break a flow's text, shared by the loader's fuzz test and ``bench/fuzz_flows.py``.

Each mutation is a small, plain function of the text and a random source, so that the
benchmark can run 100,000 of them from a seed (``random.Random``) and the test can draw
them with hypothesis (which shrinks a failing case to its smallest form).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import strategies as st

#: What a mutation inserts: YAML's indicators, structure, anchors, and characters that
#: trip readers (tabs, NUL, a lone surrogate's neighbours, right-to-left marks, BOMs).
FRAGMENTS = [
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "- ",
    "-",
    "&a ",
    "*a",
    "<<: *a",
    "!!python/object:os.system",
    "!x",
    "|",
    ">",
    "#",
    "'",
    '"',
    "\\",
    "\t",
    "\x00",
    "\x85",
    "\u2028",
    "\u202e",
    "\ufeff",
    "é",
    "💥",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "? ",
    ",",
    "~",
    "null",
    "true",
    "0x1F",
    "1e400",
    "-0",
    ".inf",
    "9" * 30,
    "${{ secrets.X }}",
    "${{",
    "when: |\n  ",
    "timeout: ",
    "retries: -1",
    "type: pause",
    "  " * 40,
    "\n",
    "\r\n",
    "uri: a/b",
    "stages: []",
    "jobs: {}",
    "timezone: " + "x" * 300,
]


def _cut(text: str, rng: random.Random) -> str:
    start = rng.randrange(len(text) + 1)
    return text[:start] + text[start + rng.randrange(1, 40) :]


def _insert(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(FRAGMENTS) + text[at:]


def _nest(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    depth = rng.choice([10, 70, 1_000, 20_000])
    opener, closer = rng.choice([("[", "]"), ("{a: ", "}"), ('{"a": ', "}")])
    return text[:at] + opener * depth + closer * depth + text[at:]


def _bomb(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    at = rng.randrange(len(lines) + 1)
    width = rng.choice([3, 10])
    levels = ["a: &l0 [" + ",".join(["x"] * width) + "]"]
    levels += [
        f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * width) + "]" for i in range(1, rng.choice([4, 9]))
    ]
    indent = " " * rng.choice([0, 2, 14])
    return "\n".join(lines[:at] + [indent + level for level in levels] + lines[at:])


def _lines(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if rng.random() < 0.5:
        lines.insert(j, lines[i])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def _indent(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    shift = rng.choice([-2, -1, 1, 3])
    lines[i] = " " * shift + lines[i] if shift > 0 else lines[i][-shift:]
    return "\n".join(lines)


MUTATIONS: list[Callable[[str, random.Random], str]] = [_cut, _insert, _nest, _bomb, _lines, _indent]


def mutate(text: str, rng: random.Random, count: int | None = None) -> str:
    """``text`` after one to four random mutations (``count`` of them, when given)."""
    for _ in range(count or rng.randint(1, 4)):
        text = rng.choice(MUTATIONS)(text, rng)
    return text


def mutated(text: str) -> st.SearchStrategy[str]:
    """A hypothesis strategy of mutations of ``text``."""
    return st.builds(lambda seed: mutate(text, random.Random(seed)), st.integers(0, 2**32 - 1))
