"""``needs:`` on an action: other actions of its stage that must finish before it starts.

A parallel stage with ``needs`` becomes a DAG: each action starts once those it needs have
finished, the others at once. The graph must be acyclic (``graphlib`` finds a cycle and
says it). In a sequence stage actions run in the order written, so an action may only
need one written before it.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from yaml.nodes import Node

from containerops.model.flow import Action, Sequencing
from containerops.model.reading import Reader, did_you_mean


def check_needs(
    r: Reader, actions: list[Action], written: dict[int, tuple[Node, str]], sequencing: Sequencing
) -> None:
    """Report every ``needs`` that names no action of the stage, itself, a later action of a
    sequence stage, or closes a cycle. ``written``: id(action) -> its ``needs`` node and where."""
    order = {action.name: index for index, action in enumerate(actions)}
    graph: dict[str, tuple[str, ...]] = {}
    for action in actions:
        if not action.needs:
            continue
        node, where = written[id(action)]
        for needed in action.needs:
            if needed == action.name:
                r.error(node, where, f"action '{action.name}' cannot need itself")
            elif needed not in order:
                hint = did_you_mean(needed, sorted(order))
                r.error(node, where, f"no action '{needed}' in this stage to need{hint}")
            elif sequencing == "sequence" and order[needed] > order[action.name]:
                r.error(
                    node,
                    where,
                    f"action '{action.name}' needs '{needed}', which runs after it: a sequence stage "
                    "runs its actions in the order written (make the stage parallel to run by needs)",
                )
        graph[action.name] = tuple(n for n in action.needs if n in order and n != action.name)
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as cycle:
        # graphlib lists each node before the one that needs it; said the other way round
        circle = list(reversed(cycle.args[1]))
        first = next(action for action in actions if action.name == circle[0])
        node, where = written[id(first)]
        r.error(node, where, f"the actions' needs go round in a circle: {' needs '.join(circle)}")
