"""``coops``: run, validate and inspect ContainerOps flows.

Exit codes: 0 success, 1 the flow failed, 2 invalid input, 130 cancelled.

This module only picks the commands a call needs and loads their module: a call naming
``component`` or ``registry`` loads those two groups alone (``component_main``: Typer,
Rich and httpx, not the engine, executors, flow model, accounts or workers commands), any
other call every command (``commands``). bench/component_transfer.py and
bench/cli_startup.py measure the start-up this saves.
"""

from __future__ import annotations

import copy
import importlib
import os
import sys

import typer

from containerops.cli.rich_help import load_typer_rich_help

EVERY_COMMAND = "containerops.cli.commands"
MODULE_OF_GROUP = {
    "component": "containerops.cli.component_main",
    "registry": "containerops.cli.component_main",
}


#: httpx's own command line (the ``httpx`` program), which httpx imports with itself when
#: click, rich and pygments are installed, as they are here: ~45 ms of a call through a
#: server (bench/component_transfer.py). coops never runs it; a None in ``sys.modules``
#: makes its import fail, and httpx then defines a stand-in ``main`` of its own.
HTTPX_COMMAND_LINE = "httpx._main"


def main() -> None:
    if HTTPX_COMMAND_LINE not in sys.modules:  # None: the import system's "not to be imported"
        sys.modules[HTTPX_COMMAND_LINE] = None  # type: ignore[assignment]
    arguments = sys.argv[1:]
    if len(arguments) < 2 or "--help" in arguments:  # a help screen is coming
        load_typer_rich_help()
    completing = any(variable.endswith("_COMPLETE") for variable in os.environ)  # walks them all
    app = app_for(None if completing else arguments[:1])
    if not completing:
        _build_only_what_is_reached(app, arguments)
    app()


def app_for(first: list[str] | None) -> typer.Typer:
    """The root app holding the command the call's first argument names (None: all)."""
    name = first[0] if first else None
    module = importlib.import_module(MODULE_OF_GROUP.get(name or "", EVERY_COMMAND))
    app: typer.Typer = module.app
    return app


def _build_only_what_is_reached(app: typer.Typer, arguments: list[str]) -> None:
    """Typer builds the Click command of every command at each call (90 functions' type hints:
    40-80 ms of start-up, bench/cli_startup.py). A call that names a command needs only that
    one, and a group's only the command its next argument names, and so on down; any other
    call (a help screen, a mistyped name that gets its did-you-mean) shows the groups' names
    and help, never their commands."""
    name = arguments[0] if arguments and not arguments[0].startswith("-") else None
    commands = [
        info
        for info in app.registered_commands
        if (info.name or typer.main.get_command_name(info.callback.__name__ if info.callback else "")) == name
    ]
    groups = [info for info in app.registered_groups if info.name == name]
    if commands or groups:
        app.registered_commands, app.registered_groups = commands, groups
        for group in groups:
            if group.typer_instance is not None:
                group.typer_instance = copy.copy(group.typer_instance)
                _build_only_what_is_reached(group.typer_instance, arguments[1:])
        return
    for group in app.registered_groups:
        if group.typer_instance is None:
            continue
        shallow = copy.copy(group.typer_instance)
        shallow.registered_commands, shallow.registered_groups = [], []
        group.typer_instance = shallow


if __name__ == "__main__":
    main()
