"""Checking the inputs a job gives a component against its spec, and what the container gets.

A flow's job (``component: library/git-clone:1.0.0`` with ``inputs:``), an example in
the spec, and ``coops component test --set`` all come through here, so that an
unknown input, a wrong type, a missing required input or a value an enum does not
allow is refused the same way everywhere, all problems at once, before anything
starts. Defaults are filled; the container gets ``CO_<KEY>`` per input and
``CO_DATA`` (the contract in ``containerops.contract``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import TYPE_CHECKING

from containerops.component.values import to_text
from containerops.contract.codata import encode_co_data

if TYPE_CHECKING:  # the spec checks its examples with this module: the spec is only a type here
    from containerops.component.spec import ComponentSpec

#: ``${NAME}`` in an example's values: filled in by ``coops component test`` (see testing).
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class InputProblem:
    """One input that does not fit the spec."""

    input: str
    message: str

    def __str__(self) -> str:
        return f"input '{self.input}': {self.message}"


class InputsInvalid(ValueError):
    """The inputs do not fit the spec; ``problems`` lists each one."""

    def __init__(self, ref: str, problems: list[InputProblem]) -> None:
        self.ref = ref
        self.problems = problems
        #: Which instance of a matrix job (``[shard=3]``) had these inputs; "" for the job.
        self.instance = ""
        super().__init__(f"{ref}: " + "; ".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class ResolvedInputs:
    """What the container gets, and what must never be shown."""

    #: Every input's value as text (given or default), by input name.
    values: dict[str, str] = field(default_factory=dict)
    #: ``CO_<KEY>`` per input, and ``CO_DATA`` with all of them.
    env: dict[str, str] = field(default_factory=dict)
    #: The values of secret inputs, for masking (``***``) in logs.
    secrets: list[str] = field(default_factory=list)


def resolve_inputs(
    spec: ComponentSpec,
    given: Mapping[str, object],
    *,
    placeholders: bool = False,
    later: re.Pattern[str] | None = None,
) -> ResolvedInputs:
    """Check ``given`` against ``spec``; fill defaults; raise ``InputsInvalid`` listing every problem.

    With ``placeholders``, a value holding ``${NAME}`` is not type-checked (it is
    filled in later); that is how an example's static spec names a URL a test
    provides. A text value matching ``later`` (a matrix job's ``${{ matrix.KEY }}``) is
    kept as written too: each instance's value is checked when it is known.
    """
    problems: list[InputProblem] = []
    declared = {item.name: item for item in spec.inputs}
    for name in given:
        if name not in declared:
            close = get_close_matches(name, list(declared), n=1, cutoff=0.6)
            hint = (
                f"; did you mean '{close[0]}'?"
                if close
                else (f" (its inputs: {', '.join(declared)})" if declared else " (it takes no inputs)")
            )
            problems.append(InputProblem(name, f"{spec.namespace}/{spec.name} has no such input{hint}"))
    values: dict[str, str] = {}
    secrets: list[str] = []
    for item in spec.inputs:
        if item.name in given and given[item.name] is not None:
            raw = given[item.name]
            if isinstance(raw, str) and (
                (placeholders and PLACEHOLDER.search(raw)) or (later is not None and later.search(raw))
            ):
                values[item.name] = raw
                continue
            try:
                values[item.name] = to_text(item.type, raw, item.values)
            except ValueError as exc:
                shown = str(exc) if not item.secret else f"expected {item.type} (value not shown: secret)"
                problems.append(InputProblem(item.name, shown))
                continue
        elif item.default is not None:
            values[item.name] = to_text(item.type, item.default, item.values)
        elif item.required:
            problems.append(InputProblem(item.name, f"is required ({item.description or item.type})"))
            continue
        else:
            continue
        if item.secret and values[item.name]:
            secrets.append(values[item.name])
    if problems:
        raise InputsInvalid(spec.ref, problems)
    env = {item.env: values[item.name] for item in spec.inputs if item.name in values}
    env["CO_DATA"] = encode_co_data(values)
    return ResolvedInputs(values=values, env=env, secrets=secrets)
