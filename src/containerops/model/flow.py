"""The validated, normalised form of a flow: what the engine runs.

The loader (``containerops.model.loader``) turns YAML or JSON, in the original
pilotage format or ours, into these objects only when the flow is valid; the
engine never sees raw dictionaries. Plain slotted dataclasses keep a
50,000-job flow cheap to hold and to walk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from containerops.model.concurrency import Concurrency
    from containerops.model.hooks import Receiver, Trigger
    from containerops.model.logrules import LogRule
    from containerops.model.matrix import Matrix
    from containerops.model.retries import Backoff
    from containerops.model.service import Service

StageType = Literal["start", "normal", "pause", "end"]
Sequencing = Literal["sequence", "parallel"]
JobType = Literal["component", "service"]
When = Literal["on_success", "on_failure", "always"]


@dataclass(frozen=True, slots=True)
class Position:
    """Where something was written: 1-based line and column."""

    line: int
    column: int


@dataclass(slots=True)
class Resources:
    cpu: float | None = None  # cores; None (or 0 in the original files) = no limit
    memory: int | None = None  # bytes; None (or 0) = no limit


@dataclass(frozen=True, slots=True)
class Subscription:
    """``stage.action.job[KEY]: ENV``: give output KEY of an earlier job as variable ENV.

    Written ``{env: ENV, default: VALUE}`` it is optional: when the producer was skipped,
    failed or never printed KEY, the job gets VALUE instead of failing (a report job that
    runs ``when: always`` still runs after a failed clone)."""

    source: str  # stage.action.job
    key: str
    env: str
    default: str | None = None  # None: required
    #: ``[KEY|sum]`` on a matrix job: one of ``model.matrix.AGGREGATES`` instead of the list.
    aggregate: str | None = None


@dataclass(slots=True)
class ComponentUse:
    """``component: namespace/name[:version]`` on a job, as written, until it is resolved.

    Resolution (``containerops.repository.usage``) checks ``inputs`` against the
    component's spec and fills the job's image, inputs, resources and timeout;
    the positions let its errors point at the file.
    """

    ref: str
    position: Position | None = None
    #: The inputs as written, with their YAML types (a list stays a list).
    inputs: dict[str, object] = field(default_factory=dict)
    inputs_position: Position | None = None
    input_positions: dict[str, Position] = field(default_factory=dict)
    #: Job keys written that override the spec's defaults: cpu, memory, timeout.
    overrides: frozenset[str] = frozenset()
    #: ``namespace/name:version`` once resolved.
    resolved: str | None = None


@dataclass(slots=True)
class Job:
    name: str
    path: str  # stage.action.job
    type: JobType = "component"
    title: str = ""
    endpoint: str | None = None  # the component image
    component: ComponentUse | None = None  # a component of the repository, by name
    command: list[str] | None = None
    environments: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # values already stringified
    outputs: list[str] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    timeout: float | None = None  # seconds; None = none
    retries: int = 0
    #: ``labels:``: the job runs only where they all match: on a worker that has them (``coops
    #: worker --labels``), on a cluster's nodes labelled so (swarm, kubernetes).
    labels: dict[str, str] = field(default_factory=dict)
    #: How long to wait between attempts, and which exit codes are retried (None: at once, any).
    backoff: Backoff | None = None
    allow_failure: bool = False
    when: When = "on_success"
    #: ``when:`` written as a Lua expression (then ``when`` is "always": the expression decides).
    condition: str | None = None
    #: Lua run before the job starts and after each attempt (``containerops.engine.scripts``).
    pre: str | None = None
    post: str | None = None
    #: What a ``type: service`` job calls (``containerops.model.service``).
    service: Service | None = None
    #: ``active: false`` here or on its action, stage or flow: skipped as "inactive".
    active: bool = True
    #: ``matrix:`` (with ``strategy:``): the job runs as one instance per combination.
    matrix: Matrix | None = None
    #: ``logs:`` rules for this job's lines only (the flow's own apply to every job's).
    logs: list[LogRule] = field(default_factory=list)
    position: Position | None = None

    def texts(self) -> list[str]:
        """Every text of the job a ``${{ ... }}`` reference may be in."""
        texts = [
            *self.environments.values(),
            *self.inputs.values(),
            *(self.command or ()),
            self.endpoint or "",
        ]
        if self.service is not None:
            texts.extend(self.service.texts())
        return texts


@dataclass(slots=True)
class Action:
    name: str
    path: str  # stage.action
    title: str = ""
    jobs: list[Job] = field(default_factory=list)
    active: bool = True  # False also when its stage or flow is inactive
    #: Names of actions of the same stage that must finish before this one starts.
    needs: tuple[str, ...] = ()
    position: Position | None = None


@dataclass(slots=True)
class Stage:
    name: str
    type: StageType = "normal"
    title: str = ""
    sequencing: Sequencing = "sequence"
    actions: list[Action] = field(default_factory=list)
    timeout: float | None = None  # pause stages: how long to wait for a decision
    #: Pause stages: go on by themselves after this many seconds (unless decided before).
    duration: float | None = None
    #: At most this many of the stage's jobs run at once (None: no limit).
    parallelism: int | None = None
    active: bool = True  # False also when the flow is inactive
    position: Position | None = None


@dataclass(slots=True)
class Flow:
    uri: str  # namespace/repository/name
    title: str = ""
    version: str = "1"
    tag: str = "latest"
    timeout: float | None = None  # seconds; None = none
    environments: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    #: Run by the server (``containerops.server.triggers``, ``containerops.notify``).
    receivers: list[Receiver] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    #: ``logs:``: what a server does with the lines the flow's runs print (model.logrules).
    logs: list[LogRule] = field(default_factory=list)
    #: Characters of log each attempt of the flow's jobs stores at most (``max_job_log:``);
    #: the server-wide ``COOPS_MAX_JOB_LOG`` still bounds it. None: that setting alone.
    max_job_log: int | None = None
    #: ``active: false``: every job is skipped as "inactive", and no trigger or schedule
    #: starts the flow (a person still may, to see it so).
    active: bool = True
    #: At most this many of the flow's jobs run at once (None: no limit).
    parallelism: int | None = None
    #: Runs of the same group run one at a time (``containerops.model.concurrency``).
    concurrency: Concurrency | None = None

    @property
    def namespace(self) -> str:
        """The namespace that owns the flow: the first part of its uri."""
        return self.uri.split("/", 1)[0]

    def jobs(self) -> list[Job]:
        """Every job, in the order they are written."""
        return [job for stage in self.stages for action in stage.actions for job in action.jobs]

    def uses_components(self) -> bool:
        """Whether a job names a ``component:`` of the repository (it is resolved before a run)."""
        return any(job.component is not None for job in self.jobs())
