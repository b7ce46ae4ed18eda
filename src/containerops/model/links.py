"""Subscriptions: each must name an output of a job that has finished before it starts.

Checked once the whole flow is built, because a subscription may name any job.
"Before" follows how the engine runs a flow: stages one after the other,
actions of a ``sequence`` stage one after the other (those of a ``parallel``
stage together), and the jobs of one action in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from yaml.nodes import Node

from containerops.model.flow import Flow, Job, Subscription
from containerops.model.reading import Reader, did_you_mean


@dataclass(frozen=True, slots=True)
class PendingSubscription:
    """A subscription read from a job, with where it was written, to check later."""

    job: Job
    subscription: Subscription
    node: Node  # the ``stage.action.job[KEY]`` key
    where: str
    what: str = "subscription"  # or "matrix from"


@dataclass(frozen=True, slots=True)
class _Place:
    stage: int
    action: int
    job: int
    parallel: bool  # the job's stage runs its actions in parallel
    outputs: tuple[str, ...]
    #: A component job's outputs are its spec's: checked when it is resolved, before a run.
    component: bool = False
    matrix: bool = False


def check_subscriptions(flow: Flow, pending: list[PendingSubscription], reader: Reader) -> None:
    """Report every subscription whose source job is missing, not earlier, or lacks the key."""
    if not pending:
        return
    places: dict[str, _Place] = {}
    for s, stage in enumerate(flow.stages):
        parallel = stage.sequencing == "parallel"
        for a, action in enumerate(stage.actions):
            for j, job in enumerate(action.jobs):
                place = _Place(
                    s, a, j, parallel, tuple(job.outputs), job.component is not None, job.matrix is not None
                )
                places.setdefault(job.path, place)
    for item in pending:
        sub = item.subscription
        text = f"{item.what} '{sub.source}[{sub.key}{'|' + sub.aggregate if sub.aggregate else ''}]'"
        source = places.get(sub.source)
        if source is None:
            hint = did_you_mean(sub.source, places)
            reader.error(item.node, item.where, f"{text}: there is no job '{sub.source}'{hint}")
            continue
        target = places[item.job.path]
        why_not = _not_before(source, target)
        if why_not:
            reader.error(
                item.node,
                item.where,
                f"{text}: job '{sub.source}' does not run before job '{item.job.path}' ({why_not})",
            )
            continue
        if sub.key not in source.outputs and not (source.component and not source.outputs):
            declared = (
                f"its outputs: {', '.join(source.outputs)}" if source.outputs else "it declares no outputs"
            )
            reader.error(
                item.node,
                item.where,
                f"{text}: job '{sub.source}' has no output '{sub.key}' "
                f"({declared}){did_you_mean(sub.key, source.outputs)}",
            )
        elif sub.aggregate is not None and not source.matrix:
            reader.error(
                item.node,
                item.where,
                f"{text}: '|{sub.aggregate}' sums up the instances of a matrix job, "
                f"and '{sub.source}' has no matrix (subscribe to [{sub.key}] itself)",
            )


def _not_before(source: _Place, target: _Place) -> str:
    """Why ``source`` has not finished when ``target`` starts; ``""`` if it has."""
    if source.stage != target.stage:
        return "" if source.stage < target.stage else "it is in a later stage"
    if source.action != target.action:
        if target.parallel:
            return "it is in a parallel action of the same stage"
        return "" if source.action < target.action else "it is in a later action of the same stage"
    if source.job == target.job:
        return "it is the same job"
    return "" if source.job < target.job else "it comes later in the same action"
