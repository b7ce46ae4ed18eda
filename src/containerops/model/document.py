"""Flow text to a YAML node tree that remembers where everything was written.

The validator walks the composed node tree rather than plain dictionaries:
every node carries the line and column it starts at, so each diagnostic can
point at the key or value at fault without a separate table of positions
(which, for a 10,000-job flow, would cost hundreds of thousands of entries).

JSON goes through the same path (JSON is YAML, give or take tabs and number
spellings), so positions come out the same way; ``json`` is used first only to
give JSON's own error messages and number rules.

One quirk of the original pilotage files is repaired here: a mapping key
indented a column or two less than the sibling key just above it (``memory:``
under ``cpu:`` in the javadoc component flow). The line is re-indented to its
sibling's column, the text parsed again, and a warning says what was assumed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from containerops.model.diagnostics import Diagnostic

Format = Literal["yaml", "json"]

#: How many lines may be re-indented before giving up and reporting the
#: syntax error: the known quirk needs two; more means the file is broken.
MAX_REPAIRS = 10
#: Only this small a shortfall is taken for the quirk, not for intent.
MAX_REPAIR_COLUMNS = 2
#: Deeper nesting than any flow or spec needs: refused before anything walks it (a walk
#: of a 10,000-level document would overflow Python's stack or take seconds).
MAX_DEPTH = 64
#: How many nodes ``*alias`` references may add to a document beyond those written: an
#: alias bomb (a few lines expanding to millions of nodes) is refused, not expanded.
MAX_ALIAS_NODES = 100_000

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_KEY_LINE = re.compile(r"( *)([^\s#\-\[\]{}][^#]*?):(?:\s|$)")

# The C parser is several times faster; its messages are terser, so errors
# are re-read with the Python one (which stops at the same place).
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(slots=True)
class Document:
    """A composed flow document: its root node, and how to read positions and values."""

    filename: str
    format: Format
    root: Node | None
    #: Syntax errors and repair warnings, found before any validation.
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: 0-based line -> spaces added at its start by a repair.
    shifts: dict[int, int] = field(default_factory=dict)
    #: Whether the text may hold an ``&anchor`` (so aliases may share nodes): a cheap,
    #: conservative test that picks how the tree's shape is checked.
    anchored: bool = False
    _constructor: SafeConstructor = field(default_factory=SafeConstructor)

    def position(self, node: Node) -> tuple[int, int]:
        """1-based (line, column) of where ``node`` starts in the original text."""
        mark = node.start_mark
        column = mark.column
        if self.shifts:
            column -= self.shifts.get(mark.line, 0)
        return mark.line + 1, max(column, 0) + 1

    def scalar(self, node: ScalarNode) -> object:
        """The Python value of a scalar: JSON rules for JSON, YAML 1.1 rules otherwise.

        Raises ``ValueError`` for a tag we cannot build (``!python/...``).
        """
        if self.format == "json":
            # Plain style is None from the Python parser and "" from libyaml.
            return json.loads(node.value) if not node.style else node.value
        if node.tag == _STR_TAG:
            return node.value
        return self.construct(node)

    def construct(self, node: Node) -> object:
        """Plain Python data for a whole subtree (used for parts kept as written)."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            raise ValueError(exc.problem or str(exc)) from None

    def flatten(self, node: MappingNode) -> None:
        """Apply ``<<: *anchor`` merge keys in place, as YAML loaders do."""
        try:
            self._constructor.flatten_mapping(node)
        except ConstructorError as exc:
            raise ValueError(exc.problem or str(exc)) from None


def detect_format(text: str) -> Format:
    """JSON when the document opens with ``{`` or ``[``, YAML otherwise."""
    stripped = text.lstrip()
    return "json" if stripped[:1] in ("{", "[") else "yaml"


def parse_document(
    text: str, filename: str, empty: str = "the document is empty: a flow needs at least a uri and stages"
) -> Document:
    """Compose ``text`` into a node tree; problems go into ``Document.diagnostics``.

    ``root`` is ``None`` when there is nothing to validate (a syntax error or
    an empty document); an error (``empty`` for an empty one) then says why.
    """
    text = text.removeprefix("\ufeff")
    fmt = detect_format(text)
    doc = Document(filename=filename, format=fmt, root=None, anchored="&" in text)
    if fmt == "json":
        try:
            json.loads(text)
        except RecursionError:
            doc.diagnostics.append(_too_deep(text, filename))
            return doc
        except json.JSONDecodeError as exc:
            # A file named .json gets JSON's error; other text may be YAML in flow style.
            if filename.lower().endswith(".json") or not _is_yaml(text):
                doc.diagnostics.append(
                    Diagnostic("error", f"invalid JSON: {exc.msg}", filename, exc.lineno, exc.colno)
                )
                return doc
            doc.format = "yaml"  # YAML in flow style, such as {uri: demo/hello/ci, stages: [...]}
        else:
            # Valid JSON has no tab inside a string, and YAML refuses tabs as spacing.
            text = text.replace("\t", " ")
    lines = text.split("\n")
    for attempt in range(MAX_REPAIRS + 1):
        try:
            doc.root = yaml.compose("\n".join(lines), Loader=_FAST_LOADER)
            break
        except RecursionError:  # block nesting deep enough to exhaust the composer's stack
            doc.diagnostics.append(_too_deep(text, filename))
            return doc
        except yaml.MarkedYAMLError as fast_error:
            if "nesting depth" in str(fast_error.problem):  # the parser's own cap (1,000 levels)
                doc.diagnostics.append(_too_deep(text, filename))
                return doc
            repaired = attempt < MAX_REPAIRS and _reindent(lines, fast_error, doc)
            if not repaired:
                doc.diagnostics.append(_syntax_error("\n".join(lines), fast_error, doc))
                return doc
        except yaml.YAMLError as exc:
            doc.diagnostics.append(_reader_error(text, exc, filename))
            return doc
    if doc.root is not None and (problem := _misshapen(doc)) is not None:
        doc.diagnostics.append(problem)
        doc.root = None
        return doc
    if isinstance(doc.root, ScalarNode) and doc.root.tag == _NULL_TAG:
        doc.root = None  # "---" alone, or a lone "~"
    if doc.root is None:
        doc.diagnostics.append(Diagnostic("error", empty, filename, 1, 1))
    return doc


def _is_yaml(text: str) -> bool:
    try:
        yaml.compose(text, Loader=_FAST_LOADER)
    except (yaml.YAMLError, RecursionError):
        return False
    return True


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _misshapen(doc: Document) -> Diagnostic | None:
    """Too deep, or too many nodes added by aliases: said at the node where it happens."""
    assert doc.root is not None
    if doc.anchored:
        return _measure_shared(doc)
    # No anchor, so no node is shared: one pass per level over the collections alone.
    level: list[Node] = [doc.root]
    depth = 1
    while level:
        if depth > MAX_DEPTH:
            return _at(doc, level[0], f"nested more than {MAX_DEPTH} levels deep")
        below: list[Node] = []
        for node in level:
            if type(node) is MappingNode:
                below.extend(part for pair in node.value for part in pair if type(part) is not ScalarNode)
            elif type(node) is SequenceNode:
                below.extend(item for item in node.value if type(item) is not ScalarNode)
        level, depth = below, depth + 1
    return None


def _measure_shared(doc: Document) -> Diagnostic | None:
    """The same checks where aliases share nodes: one walk without recursion, each node once
    (a shared node is measured once and its size reused), so that even a bomb is measured
    in the time its text takes."""
    assert doc.root is not None
    sizes: dict[int, int] = {}  # id(node) -> how many nodes it stands for, aliases expanded
    stack: list[tuple[Node, int, bool]] = [(doc.root, 1, False)]
    while stack:
        node, depth, measured_children = stack.pop()
        if measured_children:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[id(node)] - len(sizes) > MAX_ALIAS_NODES:
                return _at(
                    doc,
                    node,
                    f"aliases (*name) expand this to more than {MAX_ALIAS_NODES} nodes beyond "
                    "those written; write the values out, or fewer of them",
                )
            continue
        if id(node) in sizes:
            continue
        if depth > MAX_DEPTH:
            return _at(doc, node, f"nested more than {MAX_DEPTH} levels deep")
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node) if id(child) not in sizes)
    return None


def _at(doc: Document, node: Node, message: str) -> Diagnostic:
    line, column = doc.position(node)
    return Diagnostic("error", message, doc.filename, line, column)


def _too_deep(text: str, filename: str) -> Diagnostic:
    """Where nesting passes :data:`MAX_DEPTH`: from the parser's events (block style), else
    from the brackets (flow style and JSON, where the parser gives up before saying where)."""
    message = f"nested more than {MAX_DEPTH} levels deep"
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH and (mark := event.start_mark) is not None:
                    return Diagnostic("error", message, filename, mark.line + 1, mark.column + 1)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass
    line, column = _deep_bracket(text) or (1, 1)
    return Diagnostic("error", message, filename, line, column)


def _deep_bracket(text: str) -> tuple[int, int] | None:
    """1-based line and column of the first ``[`` or ``{`` past :data:`MAX_DEPTH` outside
    quotes; None when brackets never nest that deep."""
    depth, line, line_start, quote, escaped = 0, 1, 0, "", False
    for index, char in enumerate(text):
        if char == "\n":
            line, line_start = line + 1, index + 1
        elif quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, index - line_start + 1
        elif char in "]}":
            depth -= 1
    return None


def _reindent(lines: list[str], error: yaml.MarkedYAMLError, doc: Document) -> bool:
    """Fix the pilotage indentation quirk at the error's line, if that is what it is.

    The quirk: a ``key:`` line starts a column or two left of the ``key:`` line
    above it, so it is neither that key's sibling nor its parent's. Returns
    whether a line was re-indented (and a warning added).
    """
    mark = error.problem_mark
    if mark is None or mark.line >= len(lines) or mark.line in doc.shifts:
        return False
    offending = _KEY_LINE.match(lines[mark.line])
    if offending is None or len(offending.group(1)) != mark.column:
        return False
    above = mark.line - 1
    while above >= 0 and (not lines[above].strip() or lines[above].lstrip().startswith("#")):
        above -= 1
    sibling = _KEY_LINE.match(lines[above]) if above >= 0 else None
    if sibling is None:
        return False
    have, want = len(offending.group(1)), len(sibling.group(1))
    if not 0 < want - have <= MAX_REPAIR_COLUMNS:
        return False
    lines[mark.line] = " " * (want - have) + lines[mark.line]
    doc.shifts[mark.line] = want - have
    key, sibling_key = offending.group(2).strip(), sibling.group(2).strip()
    columns = "column" if want - have == 1 else "columns"
    doc.diagnostics.append(
        Diagnostic(
            "warning",
            f"'{key}:' is indented {want - have} {columns} less than '{sibling_key}:' on line {above + 1}, "
            f"which YAML rejects; assumed it belongs with '{sibling_key}:' "
            f"(read as if it started at column {want + 1}, not {have + 1})",
            doc.filename,
            mark.line + 1,
            have + 1,
        )
    )
    return True


def _syntax_error(text: str, fast_error: yaml.MarkedYAMLError, doc: Document) -> Diagnostic:
    """The error as the pure-Python parser words it (clearer than libyaml's), unless the
    text nests brackets past :data:`MAX_DEPTH` (that parser takes seconds over those)."""
    error = fast_error
    if _FAST_LOADER is not yaml.SafeLoader and _deep_bracket(text) is None:
        try:
            yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as slow_error:
            error = slow_error
        except (yaml.YAMLError, RecursionError):  # the pure-Python composer recurses deeper
            pass
    mark = error.problem_mark or error.context_mark
    problem = (error.problem or "").strip() or "cannot parse"
    context = (error.context or "").strip()
    if context and error.context_mark is not None:
        line, column = error.context_mark.line + 1, error.context_mark.column + 1
        if problem.startswith("but "):
            message = f"{context} (line {line}, column {column}), {problem}"
        else:
            message = f"{problem} ({context} at line {line}, column {column})"
    else:
        message = f"{problem} {context}".strip()
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    if mark is not None and mark.line in doc.shifts:
        column = max(column - doc.shifts[mark.line], 1)
    return Diagnostic("error", f"invalid {doc.format.upper()}: {message}", doc.filename, line, column)


def _reader_error(text: str, exc: yaml.YAMLError, filename: str) -> Diagnostic:
    """Errors without a mark (a control character): position from the character offset."""
    position = getattr(exc, "position", None)
    line = column = 1
    if isinstance(position, int):
        before = text[:position]
        line = before.count("\n") + 1
        column = position - (before.rfind("\n") + 1) + 1
    reason = getattr(exc, "reason", None) or str(exc).split("\n")[0]
    character = getattr(exc, "character", None)
    if isinstance(character, str):
        character = ord(character)
    if isinstance(character, int):
        reason = f"unacceptable character {character:#06x}: {reason}"
    return Diagnostic("error", f"invalid YAML: {reason}", filename, line, column)


def describe(node: Node) -> str:
    """How a node reads in a message: ``a mapping``, ``a list``, or its text quoted."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = node.value if isinstance(node.value, str) else str(node.value)
    if node.tag == _NULL_TAG:
        return "nothing"
    return repr(value)
