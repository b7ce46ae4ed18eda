"""The execution plan: what runs when.

A flow says it with stages, sequencing and actions; the plan says it as the
engine runs it: steps one after another, each step a set of lanes that run at
the same time, each lane a list of jobs that run one after another. Start and
end stages are markers and make no step; a pause stage is a step of its own;
a parallel stage makes one step of as many lanes as it has actions; a
sequence stage makes one step per action.
"""

from __future__ import annotations

from dataclasses import dataclass

from containerops.model.flow import Flow, Job


@dataclass(frozen=True, slots=True)
class Step:
    stage: str
    #: Lanes run together; a lane's jobs run one after another.
    lanes: tuple[tuple[Job, ...], ...]
    #: A pause stage: wait for an approval before what follows.
    pause: bool = False
    #: Per lane, the lanes (by index) that must finish before it starts (``needs:``).
    needs: tuple[tuple[int, ...], ...] = ()

    @property
    def parallel(self) -> bool:
        return len(self.lanes) > 1


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]

    @property
    def width(self) -> int:
        """The most jobs that can run at once."""
        return max((len(step.lanes) for step in self.steps), default=0)

    def describe(self) -> list[str]:
        """One line per step, for people: ``2. check: unit.test | lint.check``."""
        lines = []
        for number, step in enumerate(self.steps, 1):
            if step.pause:
                lines.append(f"{number}. {step.stage}: pause for an approval")
                continue
            lanes = [" -> ".join(_described(job) for job in lane) for lane in step.lanes]
            for index, needed in enumerate(step.needs):
                if needed:
                    after = ", ".join(step.lanes[n][0].path.split(".")[1] for n in needed)
                    lanes[index] += f" (after {after})"
            lines.append(f"{number}. {step.stage}: {' | '.join(lanes)}")
        return lines


def _described(job: Job) -> str:
    described = job.path.split(".", 1)[1]
    if job.matrix is not None:
        matrix = job.matrix
        fanned = (
            f"from {matrix.source[0]}[{matrix.source[1]}]"
            if matrix.source
            else f"{len(matrix.combinations())} instances"
        )
        described += f" (matrix: {fanned}{f', {matrix.max_parallel} at once' if matrix.max_parallel else ''})"
    return described if job.active else f"{described} (inactive)"


def plan(flow: Flow) -> Plan:
    steps: list[Step] = []
    for stage in flow.stages:
        if stage.type == "pause":
            if stage.active:  # an inactive pause waits for nobody
                steps.append(Step(stage.name, (), pause=True))
            continue
        actions = [action for action in stage.actions if action.jobs]
        lanes = [tuple(action.jobs) for action in actions]
        if stage.type in ("start", "end") or not lanes:
            continue
        if stage.sequencing == "parallel":
            index = {action.name: number for number, action in enumerate(actions)}
            needs = tuple(tuple(index[n] for n in action.needs if n in index) for action in actions)
            steps.append(Step(stage.name, tuple(lanes), needs=needs if any(needs) else ()))
        else:
            steps.extend(Step(stage.name, (lane,)) for lane in lanes)
    return Plan(tuple(steps))
