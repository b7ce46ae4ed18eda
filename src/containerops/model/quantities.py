"""Durations, memory sizes and CPU counts as people write them in flows.

Flows say ``timeout: 1h30m``, ``memory: 4G`` or ``cpu: 500m``; the engine wants
seconds, bytes and cores. The original pilotage files write ``0`` for "no
limit", so every parser maps zero to ``None`` (no limit) rather than to a limit
of nothing. Parsers raise ``ValueError`` with a message meant to be shown to
the user as it is; the validator puts it next to the offending line.

Arithmetic is done in ``Decimal`` so that ``format_*`` and ``parse_*`` round-trip
exactly (``1h0.001s`` is the float nearest to 3600.001, not a sum of floats).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"

_DURATION_UNITS: dict[str, Decimal] = {
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
}
_DURATION_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d)")
_DURATION = re.compile(rf"{_NUMBER}|(?:{_NUMBER}(?:ms|s|m|h|d))+")

#: Docker's convention: k, m, g and t are powers of 1024, whatever the case
#: and whether or not an ``i`` or a ``B`` follows.
_MEMORY_UNITS: dict[str, int] = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_MEMORY = re.compile(rf"({_NUMBER})\s*(?:([kmgt])(?:i?b?)|b)?", re.IGNORECASE)

_CPU = re.compile(rf"({_NUMBER})(m?)")

_DURATION_HINT = "use seconds (30) or a number with a unit, like 500ms, 30s, 5m, 1h30m or 2d"
_MEMORY_HINT = "use bytes (268435456) or a number with a unit, like 512M, 4G, 1Gi or 100k"
_CPU_HINT = "use cores (2, 0.5) or millicores (500m)"


def _read(
    value: object, what: str, hint: str, pattern: re.Pattern[str], amount: Callable[[re.Match[str]], Decimal]
) -> Decimal:
    """A non-negative quantity as a Decimal: a YAML number, or text that ``pattern`` reads.

    ``amount`` turns the match into the quantity (applying units). Booleans are
    not numbers here, whatever Python thinks.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            raise ValueError(f"invalid {what} {value!r}: it cannot be negative")
        match = pattern.fullmatch(text)
        if match is None:
            raise ValueError(f"invalid {what} {value!r}: {hint}")
        return amount(match)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"invalid {what} {value!r}: {hint}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"invalid {what} {value!r}: it must be a finite number")
    if value < 0:
        raise ValueError(f"invalid {what} {value!r}: it cannot be negative")
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _seconds(match: re.Match[str]) -> Decimal:
    parts = _DURATION_PART.findall(match.group(0))
    if not parts:
        return Decimal(match.group(0))
    return sum((Decimal(number) * _DURATION_UNITS[unit] for number, unit in parts), Decimal(0))


def _bytes(match: re.Match[str]) -> Decimal:
    return Decimal(match.group(1)) * _MEMORY_UNITS[(match.group(2) or "").lower()]


def _cores(match: re.Match[str]) -> Decimal:
    return Decimal(match.group(1)) / (1000 if match.group(2) else 1)


def parse_duration(value: object) -> float | None:
    """Seconds from ``30``, ``1.5``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"500ms"``, ``"2d"``.

    Numbers (and digit-only strings) are seconds. ``0`` means "no timeout" and
    gives ``None``, as in the original files.
    """
    total = _read(value, "duration", _DURATION_HINT, _DURATION, _seconds)
    return float(total) if total else None


def format_duration(seconds: float | None) -> str:
    """``5400`` → ``"1h30m"``, ``0.5`` → ``"500ms"``, ``None`` → ``"none"``.

    Rounded to the millisecond; ``parse_duration`` reads every result back
    (except ``"none"``, which is for display only).
    """
    if seconds is None:
        return "none"
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"cannot format duration {seconds!r}")
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if rest:
        whole, frac = divmod(rest, 1000)
        parts.append(f"{whole}.{frac:03d}".rstrip("0").rstrip(".") + "s")
    return "".join(parts)


def parse_memory(value: object) -> int | None:
    """Bytes from ``268435456``, ``"256M"``, ``"4G"``, ``"1Gi"``, ``"512Mi"``, ``"100k"``, ``"1.5G"``.

    K, M, G and T are powers of 1024 (as ``docker run --memory`` reads them),
    with or without ``i`` and ``B``. A fraction of a byte is dropped, as Docker
    does. ``0`` means "no limit" and gives ``None``.
    """
    amount = _read(value, "memory size", _MEMORY_HINT, _MEMORY, _bytes)
    size = int(amount)
    if size == 0 and amount != 0:
        raise ValueError(f"invalid memory size {value!r}: it is less than one byte")
    return size or None


def format_memory(size: int | None) -> str:
    """``268435456`` → ``"256M"``, ``1610612736`` → ``"1.5G"``, ``None`` → ``"none"``.

    Uses the largest unit that writes the size exactly with at most two
    decimals, so ``parse_memory`` reads every result back (but ``"none"``).
    """
    if size is None:
        return "none"
    if size < 0:
        raise ValueError(f"cannot format memory size {size!r}")
    for unit in ("T", "G", "M", "K"):
        scale = _MEMORY_UNITS[unit.lower()]
        if size >= scale and (size * 100) % scale == 0:
            whole, frac = divmod(size * 100 // scale, 100)
            return f"{whole}.{frac:02d}".rstrip("0").rstrip(".") + unit
    return str(size)


def parse_cpu(value: object) -> float | None:
    """Cores from ``2``, ``0.5``, ``"1.5"`` or millicores ``"500m"``; ``0`` gives ``None`` (no limit)."""
    cores = _read(value, "CPU count", _CPU_HINT, _CPU, _cores)
    return float(cores) if cores else None


def format_cpu(cores: float | None) -> str:
    """``0.5`` → ``"500m"``, ``2.0`` → ``"2"``, ``None`` → ``"none"`` (for display)."""
    if cores is None:
        return "none"
    if cores < 0 or not math.isfinite(cores):
        raise ValueError(f"cannot format CPU count {cores!r}")
    if cores == int(cores):
        return str(int(cores))
    millis = Decimal(repr(cores)) * 1000
    if millis == millis.to_integral_value():
        return f"{int(millis)}m"
    return repr(cores)


__all__ = [
    "format_cpu",
    "format_duration",
    "format_memory",
    "parse_cpu",
    "parse_duration",
    "parse_memory",
]


def text_pattern(kind: str) -> str:
    """A JSON Schema (ECMA-262) pattern of the text form of a ``duration``, ``cpu`` or
    ``memory`` quantity, from the patterns that read them here (surrounding blanks allowed)."""
    body = {
        "duration": _DURATION.pattern,
        "cpu": _CPU.pattern,
        "memory": rf"{_NUMBER}\s*(?:[kmgtKMGT][iI]?[bB]?|[bB])?",  # _MEMORY without its flag
    }[kind]
    return rf"^\s*(?:{body})\s*$"
