"""From a job spec to the process the local executor starts: pure, so it is unit-tested
without starting anything (as ``executors.docker.convert`` is for containers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from containerops.contract.output_file import OUTPUT_ENV
from containerops.executors.base import WORKSPACE_ENV, ExecutorError, JobSpec

#: Every process of a run carries its uid in this variable: the local executor's label,
#: by which ``stop_run`` finds what a killed coops process left running.
RUN_ENV = "COOPS_RUN_UID"


@dataclass(frozen=True, slots=True)
class ProcessConfig:
    argv: tuple[str, ...]
    env: dict[str, str]
    #: Bytes of address space (RLIMIT_AS); None: no limit.
    memory: int | None


def process_config(
    spec: JobSpec, *, workspace: str | None, environ: Mapping[str, str], output: str | None = None
) -> ProcessConfig:
    """The job's command with its variables on top of ``environ`` (this machine's, so that
    PATH and HOME work), the run's label and workspace, and its output file (``output``).
    Raises ``ExecutorError`` for a job without a command."""
    if not spec.command:
        raise ExecutorError(
            f"the local executor runs a job's command, and {spec.path} has none; "
            "add `command:` or use the docker executor"
        )
    env = {**environ, **spec.env, RUN_ENV: spec.run_id}
    if workspace is not None:
        env[WORKSPACE_ENV] = workspace
    if output is not None:
        env[OUTPUT_ENV] = output
    return ProcessConfig(tuple(spec.command), env, spec.memory or None)
