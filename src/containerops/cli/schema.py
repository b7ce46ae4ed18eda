"""``coops schema flow|component``: the JSON Schemas of both file formats, for editors."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer


class Format(StrEnum):
    flow = "flow"
    component = "component"


def schema(
    kind: Annotated[Format, typer.Argument(help="flow (a flow file) or component (component.yaml).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write it to this file instead of printing it.")
    ] = None,
) -> None:
    """Print the JSON Schema of flows or of component specs, for editors.

    VS Code's YAML extension (redhat.vscode-yaml) then completes keys and checks
    values as you type. Save the schemas once, and map them in .vscode/settings.json:

      coops schema flow -o .vscode/coops-flow.schema.json

      coops schema component -o .vscode/coops-component.schema.json

      "yaml.schemas": {".vscode/coops-flow.schema.json": ["flows/*.yaml"],
                       ".vscode/coops-component.schema.json": ["**/component.yaml"]}

    `coops validate` stays the judge: it also checks what a schema cannot say (job
    references, Lua, component inputs against their spec), each problem with its line.
    """
    # imported here, not at the top: other commands start without the model (bench/cli_startup.py)
    from containerops.component.spec import spec_json_schema
    from containerops.model.flow_schema import flow_json_schema

    document: dict[str, Any] = flow_json_schema() if kind is Format.flow else spec_json_schema()
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"wrote the {kind.value} schema to {output}", err=True)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
