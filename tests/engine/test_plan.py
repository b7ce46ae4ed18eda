"""The planner: steps and lanes from stages, sequencing and actions."""

from __future__ import annotations

import json

from containerops.engine.plan import plan
from containerops.model.loader import parse_flow


def flow(stages: list[dict[str, object]]) -> object:
    return parse_flow(json.dumps({"uri": "t/p/f", "stages": stages}), "f.json").flow


def jobs(*names: str) -> list[dict[str, object]]:
    return [{"name": n, "endpoint": "img"} for n in names]


def test_markers_make_no_step_and_sequence_stages_make_one_step_per_action() -> None:
    planned = plan(
        flow(
            [
                {"type": "start", "name": "start"},
                {
                    "name": "build",
                    "actions": [{"name": "a", "jobs": jobs("x", "y")}, {"name": "b", "jobs": jobs("z")}],
                },
                {"type": "end", "name": "end"},
            ]
        )  # type: ignore[arg-type]
    )
    assert [(s.stage, [[j.path for j in lane] for lane in s.lanes]) for s in planned.steps] == [
        ("build", [["build.a.x", "build.a.y"]]),
        ("build", [["build.b.z"]]),
    ]
    assert planned.width == 1 and not any(s.parallel for s in planned.steps)


def test_parallel_stage_is_one_step_of_lanes() -> None:
    planned = plan(
        flow(
            [
                {
                    "name": "check",
                    "sequencing": "parallel",
                    "actions": [
                        {"name": "unit", "jobs": jobs("test", "report")},
                        {"name": "lint", "jobs": jobs("run")},
                        {"name": "docs", "jobs": jobs("build")},
                    ],
                },
                {"name": "ship", "actions": [{"name": "up", "jobs": jobs("push")}]},
            ]
        )  # type: ignore[arg-type]
    )
    assert len(planned.steps) == 2 and planned.steps[0].parallel and planned.width == 3
    assert planned.describe() == [
        "1. check: unit.test -> unit.report | lint.run | docs.build",
        "2. ship: up.push",
    ]


def test_a_parallel_stage_with_one_action_is_not_parallel() -> None:
    planned = plan(
        flow([{"name": "s", "sequencing": "parallel", "actions": [{"name": "a", "jobs": jobs("j")}]}])
    )  # type: ignore[arg-type]
    assert not planned.steps[0].parallel and planned.width == 1


def test_an_empty_flow_has_no_steps() -> None:
    planned = plan(flow([{"type": "start", "name": "start"}, {"type": "end", "name": "end"}]))  # type: ignore[arg-type]
    assert planned.steps == () and planned.width == 0 and planned.describe() == []


def test_a_pause_stage_is_a_step_of_its_own() -> None:
    planned = plan(
        flow(
            [
                {"name": "build", "actions": [{"name": "a", "jobs": jobs("x")}]},
                {"type": "pause", "name": "approve"},
                {"name": "ship", "actions": [{"name": "b", "jobs": jobs("y")}]},
            ]
        )  # type: ignore[arg-type]
    )
    assert [(s.stage, s.pause) for s in planned.steps] == [
        ("build", False),
        ("approve", True),
        ("ship", False),
    ]
    assert planned.describe()[1] == "2. approve: pause for an approval"
