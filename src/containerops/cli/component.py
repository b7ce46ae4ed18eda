"""``coops component``: make, build and test components (the repository commands join it).

The repository side (``push``, ``pull``, ``search``, ``show``, ``list``) adds its
commands to the same ``component_app`` from ``containerops.cli.repository``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from containerops.component.spec import SpecInvalid, load_spec

EXIT_FAILURE, EXIT_INVALID = 1, 2

component_app = typer.Typer(
    help=(
        "Components: DevOps tasks in container images with declared inputs and outputs.\n\n"
        "A component is a folder with component.yaml, a Dockerfile FROM our base images, "
        "its code, a README and examples.  Start with:  coops component init my-task"
    ),
    no_args_is_help=True,
)

err = Console(stderr=True)


def fail(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def report_invalid(invalid: SpecInvalid) -> typer.Exit:
    """Print every problem of a spec (file:line:column) and give the exit to raise."""
    for diagnostic in invalid.diagnostics:
        style = "red" if diagnostic.is_error else "yellow"
        err.print(f"[{style}]{escape(str(diagnostic))}[/]", highlight=False)
    count = len(invalid.errors)
    return fail(f"the component spec has {count} problem{'s' if count != 1 else ''}; nothing was done")


@component_app.command("build")
def build(
    folder: Annotated[Path, typer.Argument(help="The component folder (with component.yaml).")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the builder's output.")] = False,
) -> None:
    """Build a component's image, tagged coops/NAMESPACE/NAME:VERSION.

    The base images are built first when missing. Exit 2 when the spec is
    invalid, 1 when the build fails.
    """
    from containerops.component.build import ComponentBuildError, build_component

    try:
        loaded = load_spec(folder)
    except SpecInvalid as invalid:
        raise report_invalid(invalid) from None

    def progress(line: str) -> None:
        if verbose or not line.startswith("  "):
            err.print(f"[dim]{escape(line)}[/]", highlight=False)

    try:
        built = build_component(folder, progress, loaded=loaded)
    except ComponentBuildError as error:
        raise fail(str(error), EXIT_FAILURE) from None
    err.print(f"[green]✔[/] {escape(built.tag)}  {built.image_id[:19]}", highlight=False)
