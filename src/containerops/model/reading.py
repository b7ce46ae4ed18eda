"""Typed reading of a composed document that records problems instead of raising.

The validator asks "the integer at this node", "this mapping with these keys";
the ``Reader`` answers with the value, or records an error at the node's
position and answers ``None``, so that one pass finds every problem in the
file instead of stopping at the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from difflib import get_close_matches
from typing import TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from containerops.model.diagnostics import Diagnostic, Severity
from containerops.model.document import Document, describe

T = TypeVar("T")

NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"

#: What a mapping reads as: key -> (key node, value node).
Fields = dict[str, tuple[ScalarNode, Node]]


def did_you_mean(word: str, candidates: Collection[str]) -> str:
    """``"; did you mean 'x'?"`` when a candidate is close to ``word``, else ``""``."""
    close = get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL_TAG


class Reader:
    """Reads values out of ``doc``'s nodes, collecting diagnostics as it goes."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    # -- reporting ------------------------------------------------------------

    def report(self, severity: Severity, node: Node, where: str, message: str) -> None:
        line, column = self.doc.position(node)
        self.diagnostics.append(Diagnostic(severity, message, self.doc.filename, line, column, where))

    def error(self, node: Node, where: str, message: str) -> None:
        self.report("error", node, where, message)

    def warning(self, node: Node, where: str, message: str) -> None:
        self.report("warning", node, where, message)

    def line(self, node: Node) -> int:
        return self.doc.position(node)[0]

    def first_time(self, seen: dict[str, Node], name: str, node: Node, where: str, message: str) -> bool:
        """Record ``name`` as written at ``node``; if it was already, report ``message``.

        The error, at the repeat, says where the first one is:
        ``<message> (first at line N)``.
        """
        earlier = seen.setdefault(name, node)
        if earlier is node:
            return True
        self.error(node, where, f"{message} (first at line {self.line(earlier)})")
        return False

    # -- structure ------------------------------------------------------------

    def mapping(
        self,
        node: Node,
        where: str,
        what: str,
        known: Sequence[str],
        tolerated: Collection[str] = (),
        any_key: bool = False,
    ) -> Fields | None:
        """The keys of a mapping node; unknown keys are errors with a suggestion.

        ``known`` keys are suggested and listed; ``tolerated`` ones (quirks of
        the original files) are accepted without being advertised; ``any_key``
        accepts every key (free-form maps such as labels). Merge keys
        (``<<: *defaults``) are applied, and the mapping's own keys win.
        """
        if not isinstance(node, MappingNode):
            self.error(node, where, f"{what} must be a mapping, got {describe(node)}")
            return None
        start = len(self.diagnostics)
        fields = self._fields(node, where, what, known, tolerated, any_key, merged=False)
        if fields is not None:
            return fields
        # A merge key: forget what was said and read the mapping again, merged.
        del self.diagnostics[start:]
        own: dict[str, Node] = {}
        for key, _ in node.value:
            if isinstance(key, ScalarNode) and key.tag != _MERGE_TAG:
                self.first_time(
                    own, key.value, key, _join(where, key.value), f"duplicate key '{key.value}' in {what}"
                )
        try:
            self.doc.flatten(node)
        except ValueError as exc:
            self.error(node, where, f"cannot merge into {what}: {exc}")
            return None
        return self._fields(node, where, what, known, tolerated, any_key, merged=True)

    def _fields(
        self,
        node: MappingNode,
        where: str,
        what: str,
        known: Sequence[str],
        tolerated: Collection[str],
        any_key: bool,
        merged: bool,
    ) -> Fields | None:
        """One pass over the keys; ``None`` if a merge key is met (and ``merged`` is false).

        In a merged mapping the merged keys come first, so a later key wins;
        otherwise a repeated key is an error and the first one is kept.
        """
        fields: Fields = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.error(key, where, f"keys of {what} must be text, got {describe(key)}")
                continue
            name = key.value
            if key.tag == _MERGE_TAG and not merged:
                return None
            if name in fields and not merged:
                first = self.line(fields[name][0])
                self.error(
                    key, _join(where, name), f"duplicate key '{name}' in {what} (first at line {first})"
                )
                continue
            if not any_key and name not in known and name not in tolerated:
                hint = did_you_mean(name, known) or f" (known keys: {', '.join(known)})"
                self.error(key, _join(where, name), f"unknown key '{name}' in {what}{hint}")
                continue
            fields[name] = (key, value)
        return fields

    def sequence(self, node: Node, where: str, what: str) -> list[Node] | None:
        """The items of a list node; ``null`` (``key:`` with nothing) is an empty list."""
        if isinstance(node, SequenceNode):
            return list(node.value)
        if is_null(node):
            return []
        self.error(node, where, f"{what} must be a list, got {describe(node)}")
        return None

    def pairs(self, node: Node, where: str, what: str) -> list[tuple[ScalarNode, Node, str]]:
        """Entries written as a mapping or as a list of one-key mappings (the original form).

        Each entry comes with its ``where``. Duplicate keys are reported once.
        """
        entries: list[tuple[ScalarNode, Node, str]] = []
        if isinstance(node, MappingNode) or is_null(node):
            fields = {} if is_null(node) else self.mapping(node, where, what, known=(), any_key=True)
            entries = [(key, value, _join(where, name)) for name, (key, value) in (fields or {}).items()]
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                item_where = f"{where}[{index}]"
                if not isinstance(item, MappingNode) or len(item.value) != 1:
                    self.error(
                        item,
                        item_where,
                        f"each item of {what} must be a mapping with one key (NAME: value), "
                        f"got {describe(item)}",
                    )
                    continue
                key, value = item.value[0]
                if not isinstance(key, ScalarNode):
                    self.error(key, item_where, f"keys of {what} must be text, got {describe(key)}")
                    continue
                entries.append((key, value, item_where))
        else:
            self.error(
                node, where, f"{what} must be a mapping or a list of one-key mappings, got {describe(node)}"
            )
        return entries

    # -- scalars --------------------------------------------------------------

    def value(self, node: Node, where: str, what: str) -> tuple[bool, object]:
        """``(True, value)`` for a scalar, ``(False, None)`` after reporting anything else."""
        if not isinstance(node, ScalarNode):
            self.error(node, where, f"{what} must be a single value, got {describe(node)}")
            return False, None
        try:
            return True, self.doc.scalar(node)
        except ValueError as exc:
            self.error(node, where, f"{what}: cannot read {describe(node)}: {exc}")
            return False, None

    def text(self, node: Node, where: str, what: str) -> str | None:
        """A scalar as written (``version: 1.10`` stays ``"1.10"``); ``null`` is ``""``."""
        if not isinstance(node, ScalarNode):
            self.error(node, where, f"{what} must be text, got {describe(node)}")
            return None
        return "" if node.tag == NULL_TAG else str(node.value)

    def stringify(self, node: Node, where: str, what: str) -> str | None:
        """A scalar as an environment value: as written, but booleans are ``true``/``false``.

        ``null`` becomes ``""``. Numbers keep their spelling (``010`` is not 8).
        """
        ok, value = self.value(node, where, what)
        if not ok:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return ""
        return str(node.value)

    def integer(self, node: Node, where: str, what: str, low: int, high: int) -> int | None:
        ok, value = self.value(node, where, what)
        if not ok:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error(node, where, f"{what} must be an integer from {low} to {high}, got {describe(node)}")
            return None
        return value

    def boolean(self, node: Node, where: str, what: str) -> bool | None:
        ok, value = self.value(node, where, what)
        if not ok:
            return None
        if not isinstance(value, bool):
            self.error(node, where, f"{what} must be true or false, got {describe(node)}")
            return None
        return value

    def choice(self, node: Node, where: str, what: str, choices: Sequence[str]) -> str | None:
        text = self.text(node, where, what)
        if text is None:
            return None
        if text not in choices:
            allowed = ", ".join(f"'{c}'" for c in choices[:-1]) + f" or '{choices[-1]}'"
            self.error(
                node, where, f"{what} must be {allowed}, got {describe(node)}{did_you_mean(text, choices)}"
            )
            return None
        return text

    def quantity(
        self, node: Node, where: str, what: str, parse: Callable[[object], T]
    ) -> tuple[bool, T | None]:
        """A value run through a ``quantities`` parser; its ``ValueError`` becomes the error."""
        ok, value = self.value(node, where, what)
        if not ok:
            return False, None
        try:
            return True, parse(value)
        except ValueError as exc:
            self.error(node, where, f"{what}: {exc}")
            return False, None

    def name(self, node: Node, where: str, what: str, pattern: re.Pattern[str], rule: str) -> str | None:
        """Text that must match ``pattern``; ``rule`` says in words what is allowed."""
        text = self.text(node, where, what)
        if text is None:
            return None
        if not pattern.fullmatch(text):
            self.error(node, where, f"{what} {describe(node)} is not valid: {rule}")
            return None
        return text


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _join(where: str, key: str) -> str:
    """``where.key``, or ``where["key"]`` when the key has dots or spaces of its own."""
    if not _PLAIN_KEY.fullmatch(key):
        return f'{where}["{key}"]'
    return f"{where}.{key}" if where else key
