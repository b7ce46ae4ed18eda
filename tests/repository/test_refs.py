"""References and version order: every name checked before it goes anywhere."""

from __future__ import annotations

import pytest

from containerops.model.component_refs import ComponentRef, RefInvalid, newest, parse_ref, version_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("library/shell", ComponentRef("library", "shell")),
        ("acme/git-clone:1.2.3", ComponentRef("acme", "git-clone", "1.2.3")),
        ("my_team/x1:1", ComponentRef("my_team", "x1", "1")),
        ("a/b:1.0", ComponentRef("a", "b", "1.0")),
        ("a/b:1.0.0-rc.1", ComponentRef("a", "b", "1.0.0-rc.1")),
    ],
)
def test_good_refs(text: str, expected: ComponentRef) -> None:
    assert parse_ref(text) == expected
    assert str(parse_ref(text)) == text


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("../x", "namespace '..' is not valid"),
        ("A/b", "namespace 'A' is not valid"),
        ("a/B", "component name 'B' is not valid"),
        ("A", "is not a component reference"),
        ("x/y/z", "is not a component reference"),
        ("a/../b", "is not a component reference"),
        ("a/b:latest", "version 'latest' is not valid"),
        ("a/b:1.x", "version '1.x' is not valid"),
        ("a/b:", "version '' is not valid"),
        ("", "a component reference is needed"),
        ("a/-b", "component name '-b' is not valid"),
        ("a b/c", "namespace 'a b' is not valid"),
    ],
)
def test_bad_refs_say_why(text: str, said: str) -> None:
    with pytest.raises(RefInvalid) as error:
        parse_ref(text)
    assert said in str(error.value)


def test_semver_order() -> None:
    versions = ["1.0.0", "1.10.0", "1.9.0", "1.0.0-rc.1", "1.0.0-rc.10", "1.0.0-rc.2", "0.9.9"]
    assert sorted(versions, key=version_key) == [
        "0.9.9",
        "1.0.0-rc.1",
        "1.0.0-rc.2",
        "1.0.0-rc.10",
        "1.0.0",
        "1.9.0",
        "1.10.0",
    ]


def test_newest_picks_releases_and_honours_partial_versions() -> None:
    versions = ["1.0.0", "1.2.0", "1.10.1", "2.0.0-rc.1", "0.3.0"]
    assert newest(versions) == "1.10.1"
    assert newest(versions, "1") == "1.10.1"
    assert newest(versions, "1.2") == "1.2.0"
    assert newest(versions, "0") == "0.3.0"
    assert newest(versions, "2") == "2.0.0-rc.1"  # only a pre-release: that one
    assert newest(versions, "1.0.0") == "1.0.0"
    assert newest(versions, "1.0.1") is None
    assert newest(versions, "3") is None
    assert newest([]) is None
