"""Rich's consoles and markup escape, loaded at their first use.

Rich's console and markup are about 30 ms of a command's start-up. ``coops component pull
--server`` prints its first line once the Engine has begun pulling, so Rich loads while
the Engine works instead of before it is asked (bench/component_transfer.py); the
component and registry commands print through these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


class LazyConsole:
    """A ``rich.console.Console(**options)`` made when first printed to."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console  # at first use: see the module's docstring

            self._console = Console(**self._options)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.console.print(*objects, **options)


def escape(markup: str) -> str:
    """``rich.markup.escape``: the text printed as it is, brackets and all."""
    from rich.markup import escape as escape_markup  # at first use: see the module's docstring

    return escape_markup(markup)


def table(*headers: str, **options: Any) -> Table:
    """``rich.table.Table(*headers, **options)``."""
    from rich.table import Table  # at first use: see the module's docstring

    return Table(*headers, **options)


#: Standard output and standard error, for every component and registry command.
out = LazyConsole()
err = LazyConsole(stderr=True)
