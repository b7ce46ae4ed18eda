"""``coops component test``: a component's examples run on the engine in real containers.

Each example becomes a one-job flow (:mod:`containerops.component.examples` says what
it means and how it is checked) that starts like every other run, through the launch
layer (:func:`.resolve_flow_components`, :func:`.prepare_run`), on the Docker executor
with host networking, so that the capture server on 127.0.0.1 is reachable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from containerops.component.build import build_component
from containerops.component.examples import (
    ACTION,
    LOG_TAIL,
    SEED_STAGE,
    STAGE,
    TEST_SERVER,
    ExampleResult,
    PlaceholderMissing,
    check_requests,
    compare,
    fill,
    flow_text,
    pack,
)
from containerops.component.inputs import InputsInvalid, resolve_inputs
from containerops.component.spec import ExampleSpec, LoadedSpec, load_spec
from containerops.component.testserver import CaptureServer
from containerops.engine import Engine
from containerops.engine.masking import Masker
from containerops.executors import get_executor
from containerops.launch.components import have_component_images, resolve_flow_components
from containerops.launch.prepare import prepare_run
from containerops.model.loader import parse_flow
from containerops.store import Store

Progress = Callable[[str], None]


def test_component(
    folder: Path | str,
    *,
    sets: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    build: bool = True,
    only: list[str] | None = None,
    store: Store | None = None,
) -> list[ExampleResult]:
    """Build the component in ``folder`` (unless ``build`` is false) and run its examples.

    ``only`` limits the run to the named examples. Raises ``SpecInvalid``,
    ``ComponentBuildError``, or ``ValueError`` for an unknown example name.
    """
    say: Progress = progress or (lambda _line: None)
    loaded = load_spec(folder)
    spec = loaded.spec
    examples = spec.examples
    if only:
        unknown = [name for name in only if name not in {e.name for e in examples}]
        if unknown:
            names = ", ".join(repr(e.name) for e in examples) or "none"
            raise ValueError(f"{spec.ref} has no example {unknown[0]!r}; its examples: {names}")
        examples = [e for e in examples if e.name in only]
    if build:
        build_component(loaded.folder, say, loaded=loaded)
    own_store = store is None
    opened = store or Store.open()
    try:
        with CaptureServer() as server:
            values = {TEST_SERVER: server.url, **dict(sets or {})}
            results = []
            for example in examples:
                say(f"example {example.name!r}")
                server.received.clear()
                results.append(_run_example(loaded, example, values, server, opened))
    finally:
        if own_store:
            opened.close()
    return results


test_component.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _run_example(
    loaded: LoadedSpec, example: ExampleSpec, values: Mapping[str, str], server: CaptureServer, store: Store
) -> ExampleResult:
    spec = loaded.spec
    result = ExampleResult(name=example.name)
    started = time.monotonic()
    try:
        inputs = fill(example.inputs, values)
        expected = {key: check.model_dump(exclude_none=True) for key, check in example.outputs.items()}
        expected = fill(expected, values)
        requests = [fill(r.model_dump(exclude_defaults=True), values) for r in example.requests]
        logs = fill(example.logs, values)
    except PlaceholderMissing as missing:
        result.problems.append(
            f"the example uses ${{{missing}}}, which nothing gives: run with --set {missing}=VALUE "
            f"(or set the environment variable {missing})"
        )
        return result
    try:
        resolved = resolve_inputs(spec, inputs)
    except InputsInvalid as invalid:
        result.problems += [str(p) for p in invalid.problems]
        return result
    masker = Masker(resolved.secrets)
    seed: str | None = None
    if example.workspace is not None:
        try:
            seed = pack(loaded.folder / example.workspace, loaded.folder)
        except ValueError as exc:
            result.problems.append(str(exc))
            return result
    text = flow_text(spec, resolved.values, seed)
    where = f"{spec.ref} example {example.name!r}"
    flow = parse_flow(text, where)
    engine = Engine(store, get_executor("docker", network_mode="host"))
    components = resolve_flow_components(store, flow.flow, filename=where)
    if components is not None:
        have_component_images(components, engine.executor.name)
    state = prepare_run(
        engine, flow.flow, source=text, fmt="yaml", components=components, secrets=resolved.secrets
    ).state
    final = asyncio.run(engine.run())
    result.run_id = final.id
    result.seconds = time.monotonic() - started
    job_path = f"{STAGE}.{ACTION}.{spec.name}"
    job = state.jobs[job_path]
    result.status, result.reason, result.outputs = job.status, job.reason, dict(job.outputs)
    lines = [row.line for row in store.log_lines(final.id, job_path=job_path)]
    if seed is not None:
        seed_job = state.jobs[f"{SEED_STAGE}.copy.seed"]
        if seed_job.status != "success":
            result.problems.append(f"copying {example.workspace}/ into /workspace failed: {seed_job.reason}")
            lines = [row.line for row in store.log_lines(final.id)]
    if not result.problems:
        result.problems += compare(example, expected, logs, job.status, job.reason, result.outputs, lines)
        result.problems += check_requests(requests, server.received)
    result.problems = [masker.mask(p) for p in result.problems]
    result.log_tail = [masker.mask(line) for line in lines[-LOG_TAIL:]]
    return result
