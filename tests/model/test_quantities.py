"""Durations, memory sizes and CPU counts: what is accepted, what is refused, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from containerops.model.quantities import (
    format_cpu,
    format_duration,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_memory,
)

KIB, MIB, GIB, TIB = 1024, 1024**2, 1024**3, 1024**4


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("10", 10.0),
        ("2.5", 2.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("2d", 172800.0),
        ("1m30.5s", 90.5),
        (" 5m ", 300.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [0, 0.0, "0", "0s", "0m0s", "0ms"])
def test_zero_duration_means_no_timeout(value: object) -> None:
    assert parse_duration(value) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1s", "invalid duration '-1s': it cannot be negative"),
        (-5, "invalid duration -5: it cannot be negative"),
        ("abc", "invalid duration 'abc': use seconds (30) or a number with a unit, like 500ms, 30s"),
        ("10x", "invalid duration '10x': use seconds"),
        ("1h 30m", "invalid duration '1h 30m': use seconds"),
        ("", "invalid duration '': use seconds"),
        (True, "invalid duration True: use seconds"),
        (None, "invalid duration None: use seconds"),
        (float("inf"), "invalid duration inf: it must be a finite number"),
        ([1], "invalid duration [1]: use seconds"),
    ],
)
def test_bad_durations_say_why(value: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_duration(value)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5400, "1h30m"),
        (0.5, "500ms"),
        (90.25, "1m30.25s"),
        (30, "30s"),
        (86400, "24h"),
        (0, "0s"),
        (None, "none"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=10**12))
def test_duration_round_trip(millis: int) -> None:
    seconds = millis / 1000
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (268435456, 268435456),
        ("256M", 256 * MIB),
        ("4G", 4 * GIB),
        ("1Gi", GIB),
        ("512Mi", 512 * MIB),
        ("100k", 100 * KIB),
        ("100K", 100 * KIB),
        ("1.5G", GIB + GIB // 2),
        ("1KB", KIB),
        ("2KiB", 2 * KIB),
        ("1T", TIB),
        ("100b", 100),
        ("1000", 1000),
        ("0.5k", 512),
        ("1.3k", 1331),  # a fraction of a byte is dropped, as docker does
    ],
)
def test_parse_memory(value: object, size: int) -> None:
    assert parse_memory(value) == size


@pytest.mark.parametrize("value", [0, "0", "0M", "0G"])
def test_zero_memory_means_no_limit(value: object) -> None:
    assert parse_memory(value) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12Q", "invalid memory size '12Q': use bytes (268435456) or a number with a unit"),
        ("-1G", "invalid memory size '-1G': it cannot be negative"),
        (True, "invalid memory size True"),
        ("1.2.3G", "invalid memory size '1.2.3G'"),
        ("0.1b", "invalid memory size '0.1b': it is less than one byte"),
        ("G", "invalid memory size 'G'"),
    ],
)
def test_bad_memory_sizes_say_why(value: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_memory(value)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (256 * MIB, "256M"),
        (4 * GIB, "4G"),
        (GIB + GIB // 2, "1.5G"),
        (1000, "1000"),
        (10**9, "976562.5K"),
        (None, "none"),
        (0, "0"),
    ],
)
def test_format_memory(size: int | None, text: str) -> None:
    assert format_memory(size) == text


@given(st.integers(min_value=1, max_value=2**60))
def test_memory_round_trip(size: int) -> None:
    assert parse_memory(format_memory(size)) == size


@pytest.mark.parametrize(
    ("value", "cores"),
    [(2, 2.0), (0.5, 0.5), ("1.5", 1.5), ("500m", 0.5), ("2000m", 2.0), ("4", 4.0)],
)
def test_parse_cpu(value: object, cores: float) -> None:
    assert parse_cpu(value) == cores


@pytest.mark.parametrize("value", [0, "0", "0m", 0.0])
def test_zero_cpu_means_no_limit(value: object) -> None:
    assert parse_cpu(value) is None


@pytest.mark.parametrize("value", ["-1", -0.5, "two", "1x", True, "1 m"])
def test_bad_cpu_counts(value: object) -> None:
    with pytest.raises(ValueError, match="invalid CPU count"):
        parse_cpu(value)


@given(st.integers(min_value=1, max_value=10**7))
def test_cpu_round_trip(millicores: int) -> None:
    cores = millicores / 1000
    assert parse_cpu(format_cpu(cores)) == cores
