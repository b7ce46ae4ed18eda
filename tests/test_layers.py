"""Imports only point down: every module of ``containerops`` imports only its own package
and the packages of lower layers, at the top of a file or inside a function (a lazy
import for start-up speed is fine; one that dodges a cycle is not)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

#: The layers, bottom first: a package may import those of its own layer and below.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"timestamps", "home", "sdk", "logtext", "contract", "model", "lua"}),
    frozenset({"store", "executors"}),
    frozenset({"engine", "workers"}),
    frozenset({"images", "component", "repository"}),
    frozenset({"launch"}),
    frozenset({"notify"}),
    frozenset({"server"}),
    frozenset({"cli"}),
)
LAYER_OF = {package: level for level, packages in enumerate(LAYERS) for package in packages}
SOURCE = ROOT / "src" / "containerops"


def package_of(module: str) -> str:
    return module.split(".")[1]


def imports(path: Path) -> list[str]:
    """Every ``containerops`` module ``path`` imports, wherever the import statement is."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if name.startswith("containerops.")]
    return found


def upward_imports() -> set[tuple[str, str]]:
    upward = set()
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        if relative == "__init__.py":
            continue
        own = relative.split("/")[0].removesuffix(".py")
        for module in imports(path):
            if LAYER_OF[package_of(module)] > LAYER_OF[own]:
                upward.add((relative, module))
    return upward


def queries_the_database(path: Path) -> bool:
    """Whether the module imports SQLAlchemy or the store's tables."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        if any(m.split(".")[0] == "sqlalchemy" or m == "containerops.store.schema" for m in modules):
            return True
    return False


def test_only_the_store_builds_sql() -> None:
    """The store is the only gate to the database: another database touches one package."""
    querying = {
        path.relative_to(SOURCE).as_posix()
        for path in SOURCE.rglob("*.py")
        if not path.relative_to(SOURCE).as_posix().startswith("store/") and queries_the_database(path)
    }
    assert querying == set(), "queries belong in a store module, one per entity"


def test_every_package_has_a_layer() -> None:
    packages = {path.name.removesuffix(".py") for path in SOURCE.iterdir()}
    packages -= {"__init__", "__pycache__", "py.typed"}
    assert packages - set(LAYER_OF) == set(), "give a new package its place in LAYERS"


def test_imports_only_point_down() -> None:
    assert upward_imports() == set(), "these imports point to a higher layer"


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from containerops.server import manager\n    import containerops.cli\n")
    assert imports(module) == ["containerops.server", "containerops.cli"]
