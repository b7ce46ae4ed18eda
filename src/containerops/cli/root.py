"""The ``coops`` root group's settings, shared by the full command set (``commands``) and
the component/registry set ``main`` loads alone for a call naming one of those groups."""

from __future__ import annotations

import typer

HELP = (
    "ContainerOps: DevOps flows of container components.\n\n"
    "A flow's stages run in order; a stage's actions run in sequence or in parallel; "
    "an action's jobs run one after another, each in a fresh container, and the "
    "outputs of one job feed the inputs of later ones.\n\n"
    "Start with:  coops images build-base  then  coops run examples/demo.yaml"
)


def root_app() -> typer.Typer:
    """A new ``coops`` root: the same name, help and settings whichever commands it gets."""
    app = typer.Typer(
        name="coops",
        help=HELP,
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
    )
    app.callback()(_always_a_group)
    return app


def _always_a_group() -> None:
    """A callback keeps coops a group of commands even when main() keeps only one of them."""
