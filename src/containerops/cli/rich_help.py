"""Typer's rich help screens without the two parts of rich that coops never uses.

``typer.rich_utils`` imports ``rich.markdown`` (with markdown-it, ~60 ms) and
``rich.traceback`` (~25 ms) at its top: the first serves ``rich_markup_mode="markdown"``,
the second pretty tracebacks. coops uses ``"rich"`` markup and plain tracebacks, so a help
screen paid ~85 ms of a ~290 ms start for nothing (bench/cli_startup.py). While
``typer.rich_utils`` is imported, those two modules are stand-ins whose one class refuses to
be used; they leave ``sys.modules`` right after, so any later import gets the real modules.
"""

from __future__ import annotations

import importlib
import sys
import types

#: The module typer.rich_utils imports, and the one name it takes from it.
_UNUSED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


def _stand_in(module: str, name: str) -> types.ModuleType:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"{module} was not loaded: coops renders help with rich markup only")

    stand_in = types.ModuleType(
        module, "A stand-in while typer.rich_utils loads; see containerops.cli.rich_help."
    )
    setattr(stand_in, name, type(name, (), {"__init__": refuse, "from_exception": staticmethod(refuse)}))
    return stand_in


def load_typer_rich_help() -> None:
    """Import ``typer.rich_utils`` (which renders help and usage errors) without loading
    ``rich.markdown`` and ``rich.traceback``. A no-op when something imported it already."""
    if "typer.rich_utils" in sys.modules:
        return
    placed = [module for module in _UNUSED if module not in sys.modules]
    for module in placed:
        sys.modules[module] = _stand_in(module, _UNUSED[module])
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for module in placed:
            del sys.modules[module]
