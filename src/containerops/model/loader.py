"""Load a flow file (YAML or JSON) into a validated ``Flow``, or say everything wrong with it.

This is the only way into the model: ``load_flow`` for a file, ``parse_flow``
for text. Either returns a ``LoadResult`` (the flow and its warnings) or
raises ``FlowInvalid`` carrying every error and every warning at once, each
with ``file:line:column``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from containerops.model.diagnostics import Diagnostic, FlowInvalid, sort_diagnostics
from containerops.model.document import Format, parse_document
from containerops.model.flow import Flow
from containerops.model.validate import build_flow


@dataclass(slots=True)
class LoadResult:
    """A valid flow, what was said about it, and what it was read from."""

    flow: Flow
    warnings: list[Diagnostic] = field(default_factory=list)
    source: str = ""  # the text as read (before any repair)
    format: Format = "yaml"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building the tree.

    A large flow allocates hundreds of thousands of small, long-lived objects
    (nodes, then model objects); each allocation burst triggers collections
    that scan them all again, which made composing a 10,000-job flow five
    times slower. Nothing built here forms garbage cycles worth collecting.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_flow(text: str, filename: str = "<flow>") -> LoadResult:
    """Validate flow ``text``; ``filename`` is only used in diagnostics."""
    with _gc_paused():
        doc = parse_document(text, filename)
        flow, found = build_flow(doc)
        diagnostics = sort_diagnostics(doc.diagnostics + found)
        fmt = doc.format
        # Free the node tree (it has no reference cycles) before the collector
        # resumes, or its first pass would scan every node once more.
        del doc
    if flow is None or any(d.severity == "error" for d in diagnostics):
        raise FlowInvalid(diagnostics)
    return LoadResult(flow=flow, warnings=diagnostics, source=text, format=fmt)


def load_flow(path: str | Path) -> LoadResult:
    """Read and validate the flow file at ``path`` (UTF-8, YAML or JSON)."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise FlowInvalid([Diagnostic("error", f"cannot read the flow file: {reason}", name)]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        message = f"the flow file is not UTF-8 text (byte {data[exc.start]:#04x})"
        raise FlowInvalid([Diagnostic("error", message, name, line, column)]) from None
    return parse_flow(text, name)
