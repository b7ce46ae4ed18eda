"""Points in time, one way everywhere: aware, in UTC, written as RFC 3339 with its offset.

What the API answers, what the CLI prints (``--json`` and tables alike) and what SQLite
holds are the same text, ``2026-12-03T22:10:07.123456+00:00``: ``datetime.fromisoformat``
reads it back, and texts of one width sort as their times do. A time without a zone is
one the store wrote in UTC (SQLite hands them back without it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, overload

#: How SQLite stores a UTC time (SQLAlchemy's ``storage_format`` for its DATETIME).
SQLITE_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02dT%(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d+00:00"
)
#: What SQLite may hold: this form, or the naive ``YYYY-MM-DD HH:MM:SS.ffffff`` of stores
#: before migration 0009 (the offset, always +00:00, is not read).
SQLITE_PATTERN = r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{6}))?"


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """A time with its zone: one without is UTC, in which the store wrote it."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """The same instant in UTC (a naive time is taken as UTC already)."""
    return None if value is None else aware(value).astimezone(UTC)


@overload
def rfc3339(value: datetime, timespec: Literal["seconds", "microseconds"] = "microseconds") -> str: ...
@overload
def rfc3339(value: None, timespec: Literal["seconds", "microseconds"] = "microseconds") -> None: ...
def rfc3339(
    value: datetime | None, timespec: Literal["seconds", "microseconds"] = "microseconds"
) -> str | None:
    """``2026-12-03T22:10:07.123456+00:00`` (``timespec="seconds"``: no fraction, for tables)."""
    return None if value is None else utc(value).isoformat(timespec=timespec)


def parse(text: str) -> datetime:
    """An RFC 3339 / ISO 8601 time, aware (``Z`` or an offset; none means UTC).

    Raises ValueError, saying what was expected, for anything else.
    """
    try:
        return aware(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (expected RFC 3339, e.g. 2026-12-03T22:10:07+00:00)"
        ) from None


def json_default(value: object) -> str:
    """``json.dumps(..., default=json_default)``: times as RFC 3339, anything else as text."""
    if isinstance(value, datetime):
        return rfc3339(value)
    return str(value)


def rows_as_json(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows (dicts) with every time value in them written as RFC 3339."""
    return [{key: rfc3339(v) if isinstance(v, datetime) else v for key, v in row.items()} for row in rows]
