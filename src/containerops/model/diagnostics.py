"""What the loader and validator say about a flow: errors and warnings with positions.

Every problem is reported at once, each pointing at the file, line and column
of the key or value at fault, in the form compilers use
(``flow.yml:12:9: error: ...``) so that editors and terminals can jump there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem (``error``) or remark (``warning``) about a flow.

    ``line`` and ``column`` are 1-based and ``None`` only when there is no
    document to point into (an unreadable file). ``where`` names the place in
    the document (``stages[1].actions[0].jobs[0].timeout``) or in the flow
    (``build.unit.test``), for tools that do not show the source.
    """

    severity: Severity
    message: str
    file: str
    line: int | None = None
    column: int | None = None
    where: str = ""

    def __str__(self) -> str:
        place = self.file
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        return f"{place}: {self.severity}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_json(self, *, file: bool = True) -> dict[str, Any]:
        """The diagnostic for scripts (``--json``) and API answers (which name no file)."""
        document: dict[str, Any] = {"severity": self.severity, "message": self.message}
        if file:
            document["file"] = self.file
        document.update(line=self.line, column=self.column, where=self.where)
        return document


def sort_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """In document order, so a reader can walk the file from top to bottom.

    Stable: diagnostics at the same place keep the order they were found in.
    """
    return sorted(diagnostics, key=lambda d: (d.line or 0, d.column or 0))


class FlowInvalid(Exception):
    """The flow cannot be used; ``diagnostics`` holds every error and every warning.

    The warnings are kept so that a command that fails still shows them: a
    warning (``kubectl`` ignored, a line re-indented) often explains an error.
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        errors = self.errors
        first = str(errors[0]) if errors else "no error reported"
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        super().__init__(first + more)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]
