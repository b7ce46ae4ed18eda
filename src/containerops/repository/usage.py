"""Using components in flows: ``component: library/git-clone:1`` resolved before a run.

Before anything starts (``coops run``, or the server through the same calls),
:func:`resolve_components` turns each component job into a plain job: its image
becomes the digest reference ``<registry>/<ns>/<name>@sha256:...`` (what the
run records, so that a rerun runs the same image), its inputs are checked
against the spec and completed with the defaults, and the spec's resources and
timeout apply unless the job sets its own. Every problem of every job is
reported at once, at the file and line it comes from, and nothing is changed
in the store. The secret inputs' values are returned, for the engine's masker.

:func:`ensure_images` then makes sure the Docker Engine has each image, pulling
what is missing from the registry, so that a registry that is down is said
before the run, not as a job's failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from containerops.component.inputs import InputsInvalid, resolve_inputs
from containerops.component.spec import ComponentSpec, output_covers
from containerops.model.component_refs import RefInvalid, parse_ref
from containerops.model.diagnostics import Diagnostic, FlowInvalid, sort_diagnostics
from containerops.model.flow import Flow, Job, Position
from containerops.model.matrix import MATRIX_REFERENCE, fill
from containerops.model.paths import instance_suffix
from containerops.repository import registry
from containerops.repository.catalog import Catalog, UnknownComponent
from containerops.store import Store


@dataclass(slots=True)
class Resolution:
    """What resolving a flow's components gave: secrets to mask, and what ran as what."""

    secrets: list[str] = field(default_factory=list)
    #: job path -> ``namespace/name:version`` it resolved to
    components: dict[str, str] = field(default_factory=dict)
    #: the digest references the flow's component jobs run
    images: list[str] = field(default_factory=list)
    #: what a person should know but that does not stop the run (a deprecated version)
    warnings: list[Diagnostic] = field(default_factory=list)


def resolve_components(
    store: Store,
    flow: Flow,
    *,
    filename: str = "<flow>",
    address: str | None = None,
    readable: Callable[[str], bool] | None = None,
    pinned: bool = False,
) -> Resolution:
    """Resolve every ``component:`` job of ``flow`` in place; ``FlowInvalid`` lists every problem.

    ``readable`` (namespace -> may this flow use its components) makes a component the
    flow may not use look exactly like a missing one. ``pinned``: the refs name the versions
    a run resolved before (a yanked one is still given to it).
    """
    resolution = Resolution()
    jobs = [job for job in flow.jobs() if job.component is not None]
    if not jobs:
        return resolution
    address = address or registry.registry_address()
    catalog = Catalog(store)
    diagnostics: list[Diagnostic] = []

    def error(position: Position | None, where: str, message: str) -> None:
        line, column = (position.line, position.column) if position else (None, None)
        diagnostics.append(Diagnostic("error", message, filename, line, column, where))

    for job in jobs:
        use = job.component
        assert use is not None
        try:
            version = catalog.resolve(parse_ref(use.ref), readable, pinned=pinned)
        except (RefInvalid, UnknownComponent) as exc:
            error(use.position, f"{job.path}.component", f"job '{job.path}': {exc}")
            continue
        if version.deprecated is not None:
            line, column = (use.position.line, use.position.column) if use.position else (None, None)
            said = f"job '{job.path}': {version.ref} is deprecated: {version.deprecated}"
            resolution.warnings.append(
                Diagnostic("warning", said, filename, line, column, f"{job.path}.component")
            )
        spec = ComponentSpec.model_validate(version.spec)
        try:
            inputs = resolve_inputs(spec, use.inputs, later=MATRIX_REFERENCE)
            _check_instances(spec, job)
        except InputsInvalid as invalid:
            at = f"{job.path}{invalid.instance}"
            for problem in invalid.problems:
                position = use.input_positions.get(problem.input) or use.inputs_position or use.position
                error(position, f"{at}.inputs", f"job '{at}' ({version.ref}): {problem}")
            continue
        job.endpoint = version.image(address)
        job.inputs = dict(inputs.values)
        if "cpu" not in use.overrides and spec.resources.cpu is not None:
            job.resources.cpu = spec.resources.cpu
        if "memory" not in use.overrides and spec.resources.memory is not None:
            job.resources.memory = spec.resources.memory
        if "timeout" not in use.overrides and spec.timeout is not None:
            job.timeout = spec.timeout
        if not job.outputs:
            job.outputs = [output.name for output in spec.outputs]
        use.resolved = version.ref
        resolution.components[job.path] = version.ref
        resolution.secrets.extend(inputs.secrets)
        if job.endpoint not in resolution.images:
            resolution.images.append(job.endpoint)
    _check_subscriptions(flow, error)
    if diagnostics:
        raise FlowInvalid(sort_diagnostics(diagnostics))
    return resolution


def _check_instances(spec: ComponentSpec, job: Job) -> None:
    """A matrix job's inputs that use ``${{ matrix.KEY }}``, filled for each instance, must fit
    the spec's types (once per distinct set of values). ``InputsInvalid.instance`` says which
    instance did not. A ``from:`` matrix's values are known only when it runs."""
    use, matrix = job.component, job.matrix
    if use is None or matrix is None or matrix.source is not None:
        return
    templated = {k: v for k, v in use.inputs.items() if isinstance(v, str) and MATRIX_REFERENCE.search(v)}
    if not templated:
        return
    combos = matrix.combinations()
    checked: set[tuple[tuple[str, str], ...]] = set()
    for index, combo in enumerate(combos):
        context = {**combo, "index": str(index), "count": str(len(combos))}
        given = {key: fill(value, context) for key, value in templated.items()}
        if (seen := tuple(given.items())) in checked:
            continue
        checked.add(seen)
        try:
            resolve_inputs(spec, {**use.inputs, **given})
        except InputsInvalid as invalid:
            invalid.instance = instance_suffix(combo)
            raise


def pin_components(flow: Flow, recorded: Mapping[str, str]) -> None:
    """Point each component job at the exact version a run recorded (``params["components"]``),
    so that resolving the flow again (a restored run) gives the images it ran with:
    versions are immutable."""
    for job in flow.jobs():
        if job.component is not None and job.path in recorded:
            job.component.ref = recorded[job.path]


def _check_subscriptions(flow: Flow, error: Callable[[Position | None, str, str], None]) -> None:
    """Subscriptions to a component job's output: the spec must declare it (the flow
    could not say, so the loader left these to the resolution)."""
    jobs = {job.path: job for job in flow.jobs()}
    for job in jobs.values():
        for sub in job.subscriptions:
            source = jobs.get(sub.source)
            if source is None or source.component is None or source.component.resolved is None:
                continue
            if not _declares(source.outputs, sub.key):
                declared = ", ".join(source.outputs) or "none"
                error(
                    job.position,
                    f"{job.path}.subscriptions",
                    f"job '{job.path}' subscribes to {sub.source}[{sub.key}], but "
                    f"{source.component.resolved} has no output '{sub.key}' (its outputs: {declared})",
                )


def _declares(outputs: Iterable[str], key: str) -> bool:
    """Whether ``key`` is one of ``outputs``, where ``NAME_*`` declares a family
    (``CO_JSON_*`` of http-request, ``*`` of shell)."""
    return any(output_covers(name, key) for name in outputs)


def ensure_images(images: list[str], progress: Callable[[str], None] | None = None) -> None:
    """Pull every image the Docker Engine lacks; ``RegistryError``/``TransferError`` otherwise."""
    from containerops.repository.engine_images import has_image
    from containerops.repository.engine_transfer import pull_image
    from containerops.repository.transfer import pull_auth

    for image in images:
        if not has_image(image):
            pull_image(image, progress, pull_auth(image))
