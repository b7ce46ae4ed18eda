"""Who may push where: the library is ours, other namespaces keep their kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerops.repository.catalog import Catalog, CatalogError
from containerops.repository.transfer import LIBRARY_FOLDER, library_folder_holds, namespace_kind_for
from containerops.store import Store
from tests.conftest import ROOT


def test_the_library_folder_is_this_repositorys_components() -> None:
    assert LIBRARY_FOLDER == ROOT / "components"
    assert library_folder_holds(ROOT / "components" / "shell")
    assert library_folder_holds(ROOT / "components" / "shell" / ".." / "git-clone")
    assert not library_folder_holds(ROOT / "components" / ".." / "examples")
    assert not library_folder_holds(Path("/tmp/components/shell"))


def test_library_pushes_need_the_library_folder_or_the_flag(store: Store, tmp_path: Path) -> None:
    catalog = Catalog(store)
    mine = tmp_path / "shell"
    with pytest.raises(CatalogError, match="namespace 'library' is reserved"):
        namespace_kind_for("library", mine, library=False, catalog=catalog, kind=None)
    assert namespace_kind_for("library", mine, library=True, catalog=catalog, kind=None) == "library"
    ours = ROOT / "components" / "shell"
    assert namespace_kind_for("library", ours, library=False, catalog=catalog, kind=None) == "library"


def test_other_namespaces_are_users_unless_said_and_keep_their_kind(store: Store, tmp_path: Path) -> None:
    catalog = Catalog(store)
    assert namespace_kind_for("acme", tmp_path, library=False, catalog=catalog, kind=None) == "user"
    assert (
        namespace_kind_for("acme", tmp_path, library=False, catalog=catalog, kind="organization")
        == "organization"
    )
    catalog.create_namespace("acme", "organization")
    assert namespace_kind_for("acme", tmp_path, library=False, catalog=catalog, kind=None) == "organization"
    with pytest.raises(CatalogError, match="exists already as organization, not user"):
        namespace_kind_for("acme", tmp_path, library=False, catalog=catalog, kind="user")
    with pytest.raises(CatalogError, match="only the namespace 'library'"):
        namespace_kind_for("other", tmp_path, library=False, catalog=catalog, kind="library")
