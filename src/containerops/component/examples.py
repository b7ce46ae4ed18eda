"""What a component's example means, apart from running it: its placeholders filled,
its workspace folder packed, the one-job flow that runs it, and the checks of what the
job gave against what the example expects (``containerops.launch.component_tests``
runs them on the engine).

Each example of ``component.yaml`` is a test case: its inputs go through the same
checks a flow's job goes through (``resolve_inputs``), then a one-job flow whose
``endpoint`` is the component's freshly built image runs on the real engine with
the Docker executor (host networking, so that servers on 127.0.0.1 are reachable),
and the job's outputs, result, log lines and the requests it made are compared
with what the example expects. Secret inputs are masked in everything reported.

Examples are static text, so values a test environment provides are written as
``${NAME}`` placeholders, filled from ``--set NAME=VALUE``, then from the
environment. ``${COOPS_TEST_SERVER}`` is always there: the address of a capture
server (``testserver``) started for the test, which echoes each request as JSON
and which an example's ``requests:`` checks. An example's ``workspace:`` folder
is copied into the run's ``/workspace`` by a job that runs first.
"""

from __future__ import annotations

import base64
import io
import os
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from containerops.component.inputs import PLACEHOLDER
from containerops.component.spec import (
    TEST_NAMESPACE,
    ComponentSpec,
    ExampleSpec,
    RequestCheck,
    image_name,
)
from containerops.component.testserver import Received
from containerops.images import BUSYBOX_IMAGE

#: The placeholder every example may use: the capture server's address.
TEST_SERVER = "COOPS_TEST_SERVER"
#: The workspace folder travels to the seeding job as a base64 tar in one variable,
#: which Linux limits to 128 KiB; fixtures are meant to be small.
MAX_WORKSPACE_BYTES = 96 * 1024
SEED_VARIABLE = "COOPS_SEED"
STAGE, ACTION, SEED_STAGE = "example", "run", "workspace"
LOG_TAIL = 20


@dataclass(slots=True)
class ExampleResult:
    """How one example went. ``problems`` is empty when it passed."""

    name: str
    problems: list[str] = field(default_factory=list)
    status: str = "not run"
    reason: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    run_id: int | None = None
    #: The job's last log lines (masked), shown when the example failed.
    log_tail: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems


class PlaceholderMissing(ValueError):
    """An example uses ``${NAME}`` and nothing gives NAME."""


def fill(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` with every ``${NAME}`` replaced; raises ``PlaceholderMissing``."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return values[name]
            if name in os.environ:
                return os.environ[name]
            raise PlaceholderMissing(name)

        return PLACEHOLDER.sub(replace, value)
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, values) for key, item in value.items()}
    return value


def pack(folder: Path, root: Path) -> str:
    """The example's workspace folder as a base64 tarball. Links are resolved first, and
    one that leads outside the component's folder ``root`` is refused, so that an example
    cannot pack files from elsewhere on the machine that tests it."""
    root = root.resolve()
    if not _inside(folder, root):
        raise ValueError(f"workspace folder {folder} leads outside the component's folder {root}")
    if not folder.is_dir():
        raise ValueError(f"workspace folder {folder} does not exist")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if not _inside(path, root):
                raise ValueError(f"workspace file {path} is a link to {path.resolve()}, outside {root}")
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(folder)))
            info.uid = info.gid = 1000
            info.uname = info.gname = "coops"
            if path.is_file():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            elif path.is_dir():
                tar.addfile(info)
    data = buffer.getvalue()
    if len(data) > MAX_WORKSPACE_BYTES:
        raise ValueError(
            f"workspace folder {folder} is {len(data)} bytes compressed, over {MAX_WORKSPACE_BYTES}: "
            "keep example fixtures small"
        )
    return base64.b64encode(data).decode()


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, every link followed, is ``root`` or lies below it."""
    return path.resolve().is_relative_to(root)


def flow_text(spec: ComponentSpec, inputs: dict[str, str], seed: str | None) -> str:
    job: dict[str, Any] = {"name": spec.name, "endpoint": image_name(spec), "inputs": inputs}
    if spec.timeout is not None:
        job["timeout"] = spec.timeout
    resources = {k: v for k, v in (("cpu", spec.resources.cpu), ("memory", spec.resources.memory)) if v}
    if resources:
        job["resources"] = resources
    stages: list[dict[str, Any]] = [{"type": "start", "name": "start"}]
    if seed is not None:
        unpack = 'tar -xzf - -C "${CO_WORKSPACE:-/workspace}"'
        script = f'set -e; printf %s "${SEED_VARIABLE}" | base64 -d | {unpack}'
        seeder = {
            "name": "seed",
            "endpoint": BUSYBOX_IMAGE,
            "command": ["sh", "-c", script],
            "environments": {SEED_VARIABLE: seed},
        }
        stages.append({"type": "normal", "name": SEED_STAGE, "actions": [{"name": "copy", "jobs": [seeder]}]})
    stages.append({"type": "normal", "name": STAGE, "actions": [{"name": ACTION, "jobs": [job]}]})
    stages.append({"type": "end", "name": "end"})
    flow = {"uri": f"{TEST_NAMESPACE}/{spec.namespace}/{spec.name}", "stages": stages}
    return yaml.safe_dump(flow, sort_keys=False, width=1000)


def compare(
    example: ExampleSpec,
    expected: dict[str, dict[str, str]],
    logs: list[str],
    status: str,
    reason: str | None,
    outputs: dict[str, str],
    lines: list[str],
) -> list[str]:
    problems: list[str] = []
    want_success = example.result
    succeeded = status == "success"
    if succeeded != want_success:
        got = "succeeded" if succeeded else f"ended with {status}" + (f" ({reason})" if reason else "")
        problems.append(f"result: expected the job to {'succeed' if want_success else 'fail'}, but it {got}")
    for key, check in expected.items():
        value = outputs.get(key)
        if value is None:
            given = ", ".join(sorted(outputs)) or "none"
            problems.append(
                f"output {key}: expected {_say(check)}, but the job did not report it (it gave: {given})"
            )
        elif "equals" in check and value != check["equals"]:
            problems.append(f"output {key}: expected {check['equals']!r}, got {value!r}")
        elif "matches" in check and not re.fullmatch(check["matches"], value):
            problems.append(f"output {key}: expected to match {check['matches']!r}, got {value!r}")
        elif "contains" in check and check["contains"] not in value:
            problems.append(f"output {key}: expected to contain {check['contains']!r}, got {value!r}")
    text = "\n".join(lines)
    problems += [f"logs: expected a line containing {want!r}" for want in logs if want not in text]
    return problems


def _say(check: dict[str, str]) -> str:
    kind, value = next(iter(check.items()))
    return repr(value) if kind == "equals" else f"a value that {kind} {value!r}"


def check_requests(checks: list[dict[str, Any]], received: list[Received]) -> list[str]:
    problems: list[str] = []
    for check in checks:
        if not any(_matches(RequestCheck.model_validate(check), request) for request in received):
            seen = ", ".join(f"{r.method} {r.path}" for r in received) or "none"
            wanted = " ".join(f"{k}={v!r}" for k, v in check.items())
            problems.append(f"requests: expected one with {wanted}; the test server received: {seen}")
    return problems


def _matches(check: RequestCheck, request: Received) -> bool:
    if check.method is not None and check.method.upper() != request.method:
        return False
    if check.path is not None and check.path != request.path:
        return False
    if check.contains is not None and check.contains not in request.body.decode("utf-8", "replace"):
        return False
    return all(request.headers.get(name.lower()) == value for name, value in check.headers.items())
