"""Input values by type: what a component's input accepts, and how the container gets it.

One place decides both the spec's defaults and the values a flow or an example
gives, so that a default that passes ``load_spec`` is always accepted later.
Every value reaches the container as text (an environment variable): booleans
as ``true``/``false``, numbers as written, lists one item per line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

InputType = Literal["string", "integer", "number", "boolean", "enum", "list"]
INPUT_TYPES: tuple[InputType, ...] = ("string", "integer", "number", "boolean", "enum", "list")

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_INTEGER = re.compile(r"[+-]?[0-9]+")


def describe_value(value: object) -> str:
    """How a given value reads in a message."""
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    return repr(value) if isinstance(value, str) else repr(str(value))


def to_text(kind: InputType, value: object, values: Sequence[str] | None = None) -> str:
    """``value`` as the container gets it; ``ValueError`` says why it does not fit ``kind``.

    Text is accepted for every type (a flow's inputs are text), so ``"3"`` is an
    integer and ``"false"`` a boolean. A list is a YAML list or text with one
    item per line.
    """
    if kind == "list":
        return _list_text(value)
    if isinstance(value, list | tuple | dict) or value is None:
        raise ValueError(f"expected {_article(kind)}, got {describe_value(value)}")
    if kind == "boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        word = str(value).strip().lower()
        if word in _TRUE:
            return "true"
        if word in _FALSE:
            return "false"
        raise ValueError(f"expected true or false, got {describe_value(value)}")
    if isinstance(value, bool):
        if kind in ("string", "enum"):
            value = "true" if value else "false"
        else:
            raise ValueError(f"expected {_article(kind)}, got {describe_value(value)}")
    text = str(value)
    if kind == "integer":
        if isinstance(value, float) or not _INTEGER.fullmatch(text.strip()):
            raise ValueError(f"expected an integer, got {describe_value(value)}")
        return str(int(text))
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {describe_value(value)}") from None
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {describe_value(value)}")
        return text.strip()
    if kind == "enum":
        allowed = list(values or [])
        if text not in allowed:
            raise ValueError(f"{describe_value(value)} is not allowed; choose one of: {', '.join(allowed)}")
    return text


def _list_text(value: object) -> str:
    if isinstance(value, str):
        items = [line for line in value.splitlines() if line.strip()]
    elif isinstance(value, list | tuple):
        items = []
        for item in value:
            if isinstance(item, list | tuple | dict) or item is None:
                raise ValueError(f"list items must be single values, got {describe_value(item)}")
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            if "\n" in text or "\r" in text:
                raise ValueError(f"list item {text!r} holds a line break; items are one line each")
            items.append(text)
    else:
        raise ValueError(f"expected a list (or text with one item per line), got {describe_value(value)}")
    return "\n".join(items)


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
