"""``coops component``: make, build and test components (the repository commands join it).

The repository side (``push``, ``pull``, ``search``, ``show``, ``list``) adds its
commands to the same ``component_app`` from ``containerops.cli.repository``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from containerops.cli.consoles import err, escape, out

if TYPE_CHECKING:
    from containerops.component.spec import SpecInvalid


EXIT_FAILURE, EXIT_INVALID = 1, 2

component_app = typer.Typer(
    help=(
        "Components: DevOps tasks in container images with declared inputs and outputs.\n\n"
        "A component is a folder with component.yaml, a Dockerfile FROM our base images, "
        "its code, a README and examples.  Start with:  coops component init my-task"
    ),
    no_args_is_help=True,
)


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
    from containerops.component.build import build_component
    from containerops.component.built import ComponentBuildError
    from containerops.component.spec import SpecInvalid, load_spec

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


@component_app.command("init")
def init(
    name: Annotated[str, typer.Argument(help="The component's name: lowercase letters, digits, - and _.")],
    lang: Annotated[str, typer.Option("--lang", help="The skeleton's language: python or shell.")] = "python",
    namespace: Annotated[
        str, typer.Option("--namespace", help="Its namespace (an organization or a user).")
    ] = "local",
    into: Annotated[Path, typer.Option("--dir", help="Where to create the NAME folder.")] = Path("."),
) -> None:
    """Create a component folder that builds and passes its own test.

    Example:

      coops component init greet --lang shell && coops component test greet
    """
    from containerops.component.skeleton import LANGUAGES, create_skeleton

    if lang not in LANGUAGES:
        raise fail(f"--lang {lang!r}: choose one of: {', '.join(LANGUAGES)}")
    try:
        folder = create_skeleton(into, name, namespace=namespace, lang=lang)  # type: ignore[arg-type]
    except ValueError as error:
        raise fail(str(error)) from None
    err.print(f"[green]✔[/] created {escape(str(folder))}/ ({lang})", highlight=False)
    err.print(f"  next: coops component test {escape(str(folder))}", highlight=False)


@component_app.command("test")
def test(
    folder: Annotated[Path, typer.Argument(help="The component folder (with component.yaml).")],
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Fill the ${NAME} placeholders of the examples: NAME=VALUE. Repeatable. "
            "The environment fills the ones not set; ${COOPS_TEST_SERVER} is always given.",
        ),
    ] = None,
    example: Annotated[
        list[str] | None, typer.Option("--example", "-x", help="Only this example (by name). Repeatable.")
    ] = None,
    no_build: Annotated[
        bool, typer.Option("--no-build", help="Use the image already built instead of building it.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the builder's output.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Build the component and run every example of its spec in a real container.

    Each example's outputs, result, log lines and the requests it made are
    compared with what it expects. An example's 'workspace:' folder is copied
    into /workspace first; ${NAME} in its values is filled from --set, then from
    the environment; ${COOPS_TEST_SERVER} is a local server that echoes requests.
    Exit 0 when all pass, 1 when one fails, 2 when the spec is invalid.

    Examples:

      coops component test components/http-request

      coops component test my-hook --set HOOK_URL=http://127.0.0.1:8000/hook -x 'posts a message'
    """
    import json
    import sys

    from containerops.component.built import ComponentBuildError
    from containerops.component.spec import SpecInvalid
    from containerops.launch.component_tests import test_component

    values: dict[str, str] = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise fail(f"--set {item!r}: expected NAME=VALUE with NAME made of letters, digits and _")
        values[key] = value

    def progress(line: str) -> None:
        if verbose or not line.startswith("  "):
            err.print(f"[dim]{escape(line)}[/]", highlight=False)

    try:
        results = test_component(folder, sets=values, progress=progress, build=not no_build, only=example)
    except SpecInvalid as invalid:
        raise report_invalid(invalid) from None
    except ComponentBuildError as error:
        raise fail(str(error), EXIT_FAILURE) from None
    except ValueError as error:
        raise fail(str(error)) from None
    failed = [r for r in results if not r.passed]
    if as_json:
        document = [
            {
                "example": r.name,
                "passed": r.passed,
                "problems": r.problems,
                "status": r.status,
                "reason": r.reason,
                "outputs": r.outputs,
                "run_id": r.run_id,
                "seconds": round(r.seconds, 3),
                "log_tail": r.log_tail if r.problems else [],
            }
            for r in results
        ]
        sys.stdout.write(json.dumps(document) + "\n")
    else:
        for r in results:
            mark = "[green]✔[/]" if r.passed else "[red]✘[/]"
            run = f" (run {r.run_id}, {r.seconds:.1f}s)" if r.run_id is not None else ""
            out.print(f"{mark} {escape(r.name)}{run}", highlight=False)
            for problem in r.problems:
                out.print(f"    [red]{escape(problem)}[/]", highlight=False)
            if r.problems and r.log_tail:
                out.print("    [dim]last log lines:[/]", highlight=False)
                for line in r.log_tail:
                    out.print(f"    [dim]| {escape(line)}[/]", highlight=False)
        total = len(results)
        summary = f"{total - len(failed)}/{total} examples passed"
        out.print(f"[{'red' if failed else 'green'}]{summary}[/]", highlight=False)
        if total == 0:
            out.print("[yellow]the spec has no examples: add some under 'examples:'[/]", highlight=False)
    if failed:
        raise typer.Exit(EXIT_FAILURE)
