"""``coops schema``: the JSON Schemas match what the validators accept and refuse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from containerops.component.spec import spec_json_schema
from containerops.model.document import parse_document
from containerops.model.flow_schema import KEY_LISTS, flow_json_schema
from tests.conftest import ROOT
from tests.model.test_pilotage_compat import FILES as PILOTAGE
from tests.model.test_validate import DEFAULTS_FLOW, FULL

FLOWS = Draft202012Validator(flow_json_schema())
SPECS = Draft202012Validator(spec_json_schema())
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
COMPONENTS = sorted((ROOT / "components").glob("*/component.yaml"))


def problems(validator: Draft202012Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def data(name: str, text: str) -> Any:
    """The file as an editor's YAML reader sees it, after the repairs the validator makes to
    some original files (tabs, indentation slips), which editors flag as YAML errors anyway."""
    doc = parse_document(text, name)
    assert doc.root is not None, doc.diagnostics
    return doc.construct(doc.root)


def test_the_schemas_are_valid_json_schemas() -> None:
    Draft202012Validator.check_schema(flow_json_schema())
    Draft202012Validator.check_schema(spec_json_schema())


@pytest.mark.parametrize(("what", "properties", "keys"), KEY_LISTS, ids=[name for name, _, _ in KEY_LISTS])
def test_each_schema_object_has_exactly_the_keys_the_validator_reads(
    what: str, properties: dict[str, Any], keys: tuple[str, ...]
) -> None:
    assert sorted(properties) == sorted(keys), what


def test_every_flow_the_validator_accepts_passes_the_schema() -> None:
    assert len(PILOTAGE) == 80, "the original flows are missing (../shared/compat/pilotage)"
    files = [*PILOTAGE, *EXAMPLES]
    texts = [(str(path), path.read_text()) for path in files] + [("FULL", FULL), ("DEFAULTS", DEFAULTS_FLOW)]
    refused = {name: found for name, text in texts if (found := problems(FLOWS, data(name, text)))}
    assert refused == {}


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("retries: 2", "retry: 2", "stages/1/actions/0/jobs/0"),
        ("timeout: 30s", "timeout: soon", "stages/1/actions/0/jobs/0/timeout"),
        ("sequencing: sequence", "sequencing: sideways", "stages/1/sequencing"),
        ("memory: 256M", "memory: lots", "stages/1/actions/0/jobs/0/resources/memory"),
        ("{type: webhook, token: HOOK_TOKEN}", "{type: webhook, secret: X}", "triggers/0"),
        ("name: unit", "name: 'two words'", "stages/1/actions/0/name"),
    ],
)
def test_what_the_validator_refuses_the_schema_refuses_too(old: str, new: str, where: str) -> None:
    assert old in FULL
    found = problems(FLOWS, yaml.safe_load(FULL.replace(old, new, 1)))
    assert any(line.startswith(f"{where}:") for line in found), found


def test_every_component_spec_passes_its_schema_and_mistakes_do_not() -> None:
    assert COMPONENTS
    for path in COMPONENTS:
        assert problems(SPECS, yaml.safe_load(path.read_text())) == [], path
    spec = yaml.safe_load(COMPONENTS[0].read_text())
    assert problems(SPECS, {**spec, "versoin": "1.0.0"})
    assert problems(SPECS, {**spec, "version": "1.0"})
    assert problems(SPECS, {**spec, "timeout": "soon"})
    assert problems(SPECS, {**spec, "name": "Has Spaces"})


def test_coops_schema_prints_and_writes_both(tmp_path: Path) -> None:
    coops = [sys.executable, "-m", "containerops.cli.main"]
    printed = subprocess.run([*coops, "schema", "flow"], capture_output=True, text=True, check=True).stdout
    assert json.loads(printed) == flow_json_schema()
    target = tmp_path / "component.schema.json"
    subprocess.run([*coops, "schema", "component", "-o", str(target)], capture_output=True, check=True)
    assert json.loads(target.read_text()) == spec_json_schema()
    wrong = subprocess.run([*coops, "schema", "pipeline"], capture_output=True, text=True, check=False)
    assert wrong.returncode == 2 and "pipeline" in wrong.stderr
