"""A log block's trigram filter, and what a search pattern needs of it: most blocks of a
search for something rare are never decompressed.

When a block is written, every three bytes in a row of its text (ASCII lower-cased) set
one bit of a bitmap (a Bloom filter with one hash, sized by the text, at most
:data:`MAX_BITS` bits, stored zstd-compressed: a sparse map is small). A search pattern is
read into what any match must hold: literal strings, in ANDs and ORs (``(?i)panic|data
race``: ``panic`` or ``data race``). A block whose bitmap lacks a trigram of every
alternative cannot hold a match: it is skipped. The filter only ever says "maybe" or
"certainly not", so a search's answer is exactly a scan's.

The pattern is read by Python's own regular-expression parser, whose syntax RE2's shares
for what matters here (literals, groups, alternations, repeats). Anything it reads
otherwise, or warns about (``[[:alpha:]]``, ``\\pL``, ``\\Q...\\E``), and anything not a
plain literal (classes, ``.``, optional parts) needs nothing: the block is scanned. Case
folding: under ``(?i)`` an ASCII letter matches itself in either case, but ``k`` and
``s`` also match U+212A (Kelvin) and U+017F (long s), and a non-ASCII letter its own
foldings: those end a literal there.
"""

from __future__ import annotations

import importlib
import re
import struct
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import zstandard

#: Python's regular-expression parser (``re._parser``; typeshed has no stub for it).
_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")

#: Bits of a block's bitmap at most (32 KiB) and at least.
MAX_BITS = 1 << 18
MIN_BITS = 1 << 9
#: Bits per byte of text: a block of short text gets a small map, not a sparse 32 KiB one.
BITS_PER_BYTE = 4
#: A text shorter than this gets no filter (scanning it costs less than its map would).
MIN_TEXT = 4096
_HASH = 0x9E3779B1  # Knuth's multiplicative hash
_FOLDING = frozenset("ks")  # ASCII letters (?i) also matches non-ASCII letters with

_local = threading.local()


def _zstd() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    found: tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor] | None = getattr(_local, "zstd", None)
    if found is None:
        found = _local.zstd = (zstandard.ZstdCompressor(level=1), zstandard.ZstdDecompressor())
    return found


def build(text: bytes) -> bytes | None:
    """The filter of a block's text (its lines joined by ``\\n``), or None for a short text:
    one byte saying how many bits (a power of two), then the bitmap, zstd-compressed."""
    if len(text) < MIN_TEXT:
        return None
    import numpy as np  # here, not at import: only a writer needs it (coops logs starts faster)

    shift = max(MIN_BITS, min(MAX_BITS, len(text) * BITS_PER_BYTE)).bit_length() - 1
    padded = text.lower() + bytes(8)  # (the zeros add trigrams, never take one away)
    bits = np.zeros(1 << shift, dtype=np.bool_)
    for offset in range(4):  # the trigrams at offset, offset + 4, ...: words' low 3 bytes
        words = np.frombuffer(padded, dtype="<u4", offset=offset, count=(len(padded) - offset) // 4 - 1)
        grams = words & np.uint32(0xFFFFFF)
        bits[((grams * np.uint32(_HASH)) >> np.uint32(32 - shift)).astype(np.intp)] = True
    return bytes([shift]) + _zstd()[0].compress(np.packbits(bits).tobytes())


def _bit(gram: bytes, shift: int) -> int:
    return ((int.from_bytes(gram, "little") * _HASH) & 0xFFFFFFFF) >> (32 - shift)


@dataclass(frozen=True, slots=True)
class Need:
    """What any match of a pattern holds: all of ``literals`` and all of ``all_of``, and
    (unless ``any_of`` is empty) one of ``any_of``. Literals are lower-cased UTF-8 of at
    least three bytes."""

    literals: tuple[bytes, ...] = ()
    all_of: tuple[Need, ...] = ()
    any_of: tuple[Need, ...] = ()

    @property
    def nothing(self) -> bool:
        return not (self.literals or self.all_of or self.any_of)


_NOTHING = Need()


class Filter:
    """A block's bitmap, read once, answering whether a pattern's needs may be in it."""

    def __init__(self, stored: bytes) -> None:
        self.shift = stored[0]
        self.bits = _zstd()[1].decompress(stored[1:])

    def _has(self, literal: bytes) -> bool:
        bits, shift = self.bits, self.shift
        for i in range(len(literal) - 2):
            bit = _bit(literal[i : i + 3], shift)
            if not bits[bit >> 3] & (0x80 >> (bit & 7)):
                return False
        return True

    def may_hold(self, need: Need) -> bool:
        if not all(self._has(literal) for literal in need.literals):
            return False
        if not all(self.may_hold(part) for part in need.all_of):
            return False
        return not need.any_of or any(self.may_hold(part) for part in need.any_of)


def need_of(pattern: str) -> Need:
    """What every match of ``pattern`` (RE2 syntax) holds; nothing when that cannot be told."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. "possible nested set" ([[:alpha:]])
            parsed = _parser.parse(pattern)
    except (re.error, Warning, RecursionError, OverflowError, ValueError):
        return _NOTHING
    return _sequence(parsed, bool(parsed.state.flags & re.IGNORECASE))


def _sequence(items: Any, fold: bool) -> Need:
    """The needs of a sequence of parsed items: the literals in a row, and each part's."""
    literals: list[bytes] = []
    parts: list[Need] = []
    run: list[str] = []

    def end_run() -> None:
        text = "".join(run).encode("utf-8", "surrogatepass").lower()
        if len(text) >= 3:
            literals.append(text)
        run.clear()

    for op, value in items:
        if op is _constants.LITERAL:
            char = chr(value)
            if char == "\n" or (fold and (not char.isascii() or char.lower() in _FOLDING)):
                end_run()
            else:
                run.append(char)
            continue
        end_run()
        if op is _constants.SUBPATTERN:
            _, add, remove, inner = value
            inner_fold = (fold or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            parts.append(_sequence(inner, inner_fold))
        elif op is _constants.BRANCH:
            choices = [_sequence(choice, fold) for choice in value[1]]
            if not any(choice.nothing for choice in choices):
                parts.append(Need(any_of=tuple(choices)))
        elif op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT):
            low, _, inner = value
            if low >= 1:
                parts.append(_sequence(inner, fold))
        elif op is _constants.ATOMIC_GROUP:
            parts.append(_sequence(value, fold))
        # anything else (classes, ``.``, anchors, look-arounds) needs nothing
    end_run()
    kept = tuple(part for part in parts if not part.nothing)
    return Need(tuple(literals), kept)


def pack(grams: bytes | None) -> bytes:
    """The filter as a prefix of a stored block: its length (4 bytes) and itself."""
    grams = grams or b""
    return struct.pack(">I", len(grams)) + grams


def unpack(data: bytes, at: int) -> tuple[bytes | None, int]:
    """The filter stored at ``data[at:]`` (None when the block has none), and where the rest begins."""
    (length,) = struct.unpack_from(">I", data, at)
    start = at + 4
    return (data[start : start + length] or None), start + length
