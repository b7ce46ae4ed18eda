"""From a composed document to a ``Flow``, reporting every problem at once.

Both our format and the original pilotage one are read; the quirks of the
80 original flows (``kubectl``, ``CO-DATA``, unnamed jobs, runtime dumps with
``number`` and ``status``, empty ``-`` actions, repeated action names) are
accepted with warnings, so that ``coops validate`` passes every one of them.

Names become parts of ``stage.action.job`` paths and of container names, hence
the strict name rule. ``check_runnable_locally`` says what ``coops run``
(without a server) cannot do with an otherwise valid flow.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from containerops.model.component_refs import RefInvalid, parse_ref
from containerops.model.concurrency import read_concurrency
from containerops.model.defaults import DEFAULT_KEYS, NONE, Defaults, apply_defaults
from containerops.model.diagnostics import Diagnostic
from containerops.model.document import Document, describe
from containerops.model.flow import (
    Action,
    ComponentUse,
    Flow,
    Job,
    JobType,
    Position,
    Resources,
    Sequencing,
    Stage,
    StageType,
    Subscription,
    When,
)
from containerops.model.hooks import Receiver, read_receivers, read_triggers
from containerops.model.links import PendingSubscription, check_subscriptions
from containerops.model.logrules import check_notify_names, read_log_rules
from containerops.model.matrix import AGGREGATES, Matrix, check_size, read_matrix, read_strategy
from containerops.model.names import ENV_NAME, ENV_RULE, KEY, KEY_RULE, STEP_NAME, STEP_NAME_RULE, URI_PART
from containerops.model.needs import check_needs
from containerops.model.quantities import parse_cpu, parse_duration, parse_memory
from containerops.model.reading import NULL_TAG, Fields, Reader, did_you_mean, is_null
from containerops.model.references import (
    EXPRESSION,
    RUN_VARIABLES,
    Reference,
    env_names,
    references,
    syntax_problems,
)
from containerops.model.retries import read_retries
from containerops.model.scripts import BARE_WORD, check_job_references, read_lua
from containerops.model.service import read_service

_SPACE = re.compile(r"\s")
SUBSCRIPTION = re.compile(r"([^.\[\]\s]+)\.([^.\[\]\s]+)\.([^.\[\]\s]+)\[([^\[\]\s]+)\]")

FLOW_KEYS = (
    "uri",
    "title",
    "version",
    "tag",
    "timeout",
    "environments",
    "labels",
    "receivers",
    "triggers",
    "logs",
    "max_job_log",
    "active",
    "defaults",
    "parallelism",
    "concurrency",
    "stages",
)
STAGE_KEYS = (
    "type",
    "name",
    "title",
    "sequencing",
    "timeout",
    "duration",
    "active",
    "defaults",
    "parallelism",
    "actions",
)
ACTION_KEYS = ("name", "title", "active", "needs", "jobs")
JOB_KEYS = (
    "name",
    "title",
    "type",
    "endpoint",
    "component",
    "service",
    "command",
    "environments",
    "inputs",
    "outputs",
    "subscriptions",
    "resources",
    "timeout",
    "retries",
    "labels",
    "allow_failure",
    "when",
    "pre",
    "post",
    "active",
    "matrix",
    "strategy",
    "logs",
)
RESOURCE_KEYS = ("cpu", "memory")
SUBSCRIPTION_KEYS = ("env", "default")
#: Keys of the original engine's runtime dumps: accepted, ignored, warned about.
RUNTIME_FLOW_KEYS = ("number", "namespace")
RUNTIME_JOB_KEYS = ("status",)

STAGE_TYPES: tuple[StageType, ...] = ("start", "normal", "pause", "end")
SEQUENCINGS: tuple[Sequencing, ...] = ("sequence", "parallel")
JOB_TYPES: tuple[JobType, ...] = ("component", "service")
WHENS: tuple[When, ...] = ("on_success", "on_failure", "always")
LUA_LITERALS = ("true", "false", "nil")

#: Jobs a flow may have: far above real flows, and a bound on what one flow makes the
#: engine, the store and the server hold. ``COOPS_MAX_JOBS`` raises (or lowers) it.
DEFAULT_MAX_JOBS = 10_000
#: The largest ``parallelism`` (jobs at once) a flow or a stage may ask for.
MAX_PARALLELISM = 10_000


def max_jobs() -> int:
    setting = os.environ.get("COOPS_MAX_JOBS", "").strip()
    return int(setting) if setting.isdigit() else DEFAULT_MAX_JOBS


KUBECTL_WARNING = "kubectl is not supported; the job runs its endpoint image"


def build_flow(doc: Document) -> tuple[Flow | None, list[Diagnostic]]:
    """The flow in ``doc`` and every diagnostic about it (the flow is unusable if any is an error)."""
    reader = Reader(doc)
    if doc.root is None:
        return None, reader.diagnostics
    builder = _Builder(reader)
    flow = builder.flow(doc.root)
    if flow is not None:
        check_subscriptions(flow, builder.pending, reader)
        reader.diagnostics.extend(check_job_references(flow, doc.filename))
        builder.check_env_refs(flow)
    return flow, reader.diagnostics


def _inherit_inactive(flow: Flow) -> None:
    """What an inactive flow, stage or action holds is inactive too: the engine then asks
    only a stage (for its pause) or a job whether it is on."""
    for stage in flow.stages:
        stage.active = stage.active and flow.active
        for action in stage.actions:
            action.active = action.active and stage.active
            for job in action.jobs:
                job.active = job.active and action.active


def _resource_keys(node: Node | None) -> list[str]:
    """``resources.cpu`` / ``resources.memory`` for those a job writes."""
    if not isinstance(node, MappingNode):
        return []
    return [f"resources.{key.value}" for key, _ in node.value if isinstance(key, ScalarNode)]


def _values(fields: Fields) -> dict[str, Node]:
    """The value nodes of the keys that have one: ``key:`` written empty counts as absent."""
    return {name: value for name, (_, value) in fields.items() if value.tag != NULL_TAG}


def _scalar_holding(node: Node, text: str) -> Node:
    """The first scalar under ``node`` whose value holds ``text`` (where to point an error), or
    ``node`` itself."""
    if isinstance(node, ScalarNode):
        return node
    children = node.value if isinstance(node, SequenceNode) else [v for pair in node.value for v in pair]
    for child in children:
        found = _scalar_holding(child, text)
        if isinstance(found, ScalarNode) and text in str(found.value):
            return found
    return node


def _as_written(node: Node, valid: str | None) -> str | None:
    """An invalid name (already reported) as written, so that paths built from it
    and the messages that quote them still read as the user wrote them."""
    if valid is None and isinstance(node, ScalarNode):
        return str(node.value)
    return valid


class _Builder:
    """Builds the model while the reader collects diagnostics (one instance per document)."""

    def __init__(self, reader: Reader) -> None:
        self.r = reader
        self.doc = reader.doc
        self.pending: list[PendingSubscription] = []
        #: ``${{ env.NAME }}`` references: (node, where, name, the job or None for the flow's
        #: environments), checked once the flow is built, when every environment is known
        self.env_refs: list[tuple[Node, str, str, Job | None]] = []
        self.current_job: Job | None = None
        #: The flow's receivers (read before its stages): what a job's log rules may notify.
        self.receivers: list[Receiver] = []
        #: The ``needs`` of the current stage's actions as written: id(action) -> (node, where).
        self.needs_written: dict[int, tuple[Node, str]] = {}
        #: The flow's ``defaults:``, under the current stage's while its jobs are read.
        self.defaults = NONE
        self.job_count = 0
        self.max_jobs = max_jobs()

    def position(self, node: Node) -> Position:
        return Position(*self.doc.position(node))

    # -- flow -----------------------------------------------------------------

    def flow(self, root: Node) -> Flow | None:
        r = self.r
        fields = r.mapping(root, "", "the flow", FLOW_KEYS, RUNTIME_FLOW_KEYS)
        if fields is None:
            return None
        values = _values(fields)
        flow = Flow(uri="")
        self.receivers = flow.receivers  # a job's log rules notify the flow's receivers
        node = values.get("uri")
        if node is None:
            r.error(root, "uri", "the flow has no 'uri': give it as namespace/repository/name")
        else:
            flow.uri = self.uri(node) or ""
        if (node := values.get("title")) is not None:
            flow.title = r.text(node, "title", "title") or ""
        if (node := values.get("version")) is not None:
            flow.version = r.text(node, "version", "version") or flow.version
        if (node := values.get("tag")) is not None:
            flow.tag = r.text(node, "tag", "tag") or flow.tag
        if (node := values.get("timeout")) is not None:
            flow.timeout = r.quantity(node, "timeout", "timeout", parse_duration)[1]
        if (node := values.get("environments")) is not None:
            flow.environments = self.environments(node, "environments")
        if (node := values.get("labels")) is not None:
            flow.labels = self.labels(node, "labels")
        if (node := values.get("receivers")) is not None:
            flow.receivers = self.receivers = read_receivers(r, node, "receivers")
        if (node := values.get("triggers")) is not None:
            flow.triggers = read_triggers(r, node, "triggers")
        if (node := values.get("logs")) is not None:
            flow.logs = read_log_rules(r, node, "logs")
            check_notify_names(r, node, flow.logs, flow.receivers)
        if (node := values.get("max_job_log")) is not None:
            flow.max_job_log = r.quantity(node, "max_job_log", "max_job_log", parse_memory)[1]
        if (node := values.get("active")) is not None:
            flow.active = self.active(node, "active")
        if (node := values.get("defaults")) is not None:
            self.defaults = self.read_defaults(node, "defaults")
        if (node := values.get("parallelism")) is not None:
            flow.parallelism = r.integer(node, "parallelism", "parallelism", 1, MAX_PARALLELISM)
        if (node := values.get("concurrency")) is not None:
            flow.concurrency = read_concurrency(r, node, "concurrency", self.references)
        for key in RUNTIME_FLOW_KEYS:
            if key in fields:
                r.warning(
                    fields[key][0],
                    key,
                    f"'{key}' is ignored: it belongs to a runtime record of the "
                    "original engine, not to a flow",
                )
        node = values.get("stages")
        if node is None:
            r.error(root, "stages", "the flow has no 'stages'")
        else:
            flow.stages = self.stages(node)
        _inherit_inactive(flow)
        return flow

    def uri(self, node: Node) -> str | None:
        r = self.r
        text = r.text(node, "uri", "uri")
        if text is None:
            return None
        parts = text.split("/")
        if len(parts) != 3:
            r.error(
                node, "uri", f"uri '{text}' must be namespace/repository/name (three parts separated by '/')"
            )
            return None
        for part in parts:
            if not part:
                problem = "has an empty part"
            elif ".." in part:
                problem = "must not contain '..'"
            elif not URI_PART.fullmatch(part):
                problem = (
                    f"has an invalid part '{part}': use lowercase letters, digits, '-', '_' and '.', "
                    "starting with a letter or a digit"
                )
            else:
                continue
            r.error(node, "uri", f"uri '{text}' {problem}")
            return None
        for part in parts:
            if part != part.lower():
                r.warning(
                    node,
                    "uri",
                    f"uri part '{part}' has capital letters; uris are lowercase "
                    "(accepted for the original flows, kept as written)",
                )
        return text

    def environments(self, node: Node, where: str) -> dict[str, str]:
        """Both forms: ``{NAME: value}`` and the original ``[{NAME: value}, ...]``."""
        r = self.r
        env: dict[str, str] = {}
        first: dict[str, Node] = {}
        for key, value, item_where in r.pairs(node, where, "environments"):
            name = key.value
            if name == "CO-DATA":
                r.warning(
                    key, item_where, "'CO-DATA' is read as 'CO_DATA' ('-' is not allowed in a variable name)"
                )
                name = "CO_DATA"
            elif not ENV_NAME.fullmatch(name):
                r.error(key, item_where, f"environment variable name '{name}' is not valid: {ENV_RULE}")
                continue
            if not r.first_time(first, name, key, item_where, f"environment variable '{name}' is set twice"):
                continue
            text = r.stringify(value, item_where, f"environment variable '{name}'")
            if text is not None:
                self.references(value, item_where, text)
                env[name] = text
        return env

    def labels(self, node: Node, where: str) -> dict[str, str]:
        labels: dict[str, str] = {}
        for key, value, item_where in self.r.pairs(node, where, "labels"):
            if not key.value:
                self.r.error(key, item_where, "a label needs a name")
                continue
            text = self.r.stringify(value, item_where, f"label '{key.value}'")
            if text is not None:
                labels[key.value] = text
        return labels

    def name(self, values: dict[str, Node], node: Node, where: str, noun: str) -> str | None:
        """A required stage or action name; reports it missing or invalid."""
        value = values.get("name")
        if value is None:
            self.r.error(node, where, f"{'an' if noun[0] in 'aeiou' else 'a'} {noun} has no 'name'")
            return None
        return _as_written(
            value, self.r.name(value, f"{where}.name", f"{noun} name", STEP_NAME, STEP_NAME_RULE)
        )

    # -- stages ---------------------------------------------------------------

    def stages(self, node: Node) -> list[Stage]:
        r = self.r
        items = r.sequence(node, "stages", "stages")
        if items is None:
            return []
        if not items:
            r.error(node, "stages", "the flow has no stages")
        stages: list[Stage] = []
        nodes: list[Node] = []
        first: dict[str, Node] = {}
        for index, item in enumerate(items):
            where = f"stages[{index}]"
            if is_null(item):
                r.warning(item, where, "an empty stage ('-' with nothing after it) is ignored")
                continue
            stage = self.stage(item, where)
            if stage is None:
                continue
            if stage.name:
                r.first_time(first, stage.name, item, where, f"duplicate stage name '{stage.name}'")
            stages.append(stage)
            nodes.append(item)
        self.check_stage_order(stages, nodes)
        return stages

    def check_stage_order(self, stages: list[Stage], nodes: Sequence[Node]) -> None:
        """A start stage only first, an end stage only last, each at most once."""
        for index, (stage, node) in enumerate(zip(stages, nodes, strict=True)):
            if stage.type == "start" and index != 0:
                self.r.error(node, stage.name, f"start stage '{stage.name}' must be the first stage")
            if stage.type == "end" and index != len(stages) - 1:
                self.r.error(node, stage.name, f"end stage '{stage.name}' must be the last stage")

    def stage(self, node: Node, where: str) -> Stage | None:
        r = self.r
        fields = r.mapping(node, where, "a stage", STAGE_KEYS)
        if fields is None:
            return None
        values = _values(fields)
        stage = Stage(name=self.name(values, node, where, "stage") or "", position=self.position(node))
        if (value := values.get("type")) is not None:
            kind = r.choice(value, f"{where}.type", "stage type", STAGE_TYPES)
            stage.type = cast(StageType, kind or stage.type)
        if (value := values.get("title")) is not None:
            stage.title = r.text(value, f"{where}.title", "title") or ""
        if (value := values.get("sequencing")) is not None:
            sequencing = r.choice(value, f"{where}.sequencing", "sequencing", SEQUENCINGS)
            stage.sequencing = cast(Sequencing, sequencing or stage.sequencing)
        if (value := values.get("timeout")) is not None:
            ok, stage.timeout = r.quantity(value, f"{where}.timeout", "timeout", parse_duration)
            if ok and stage.type != "pause":
                r.warning(
                    fields["timeout"][0],
                    f"{where}.timeout",
                    f"timeout is ignored on a {stage.type} stage: only pause stages wait",
                )
        if (value := values.get("duration")) is not None:
            ok, stage.duration = r.quantity(value, f"{where}.duration", "duration", parse_duration)
            if ok and stage.type != "pause":
                r.error(fields["duration"][0], f"{where}.duration", "only a pause stage waits for a duration")
            elif ok and "timeout" in values:
                r.error(
                    fields["duration"][0],
                    f"{where}.duration",
                    "a pause stage waits for a decision (timeout: how long at most) or for a duration "
                    "(then it goes on by itself), not both",
                )
        if (value := values.get("active")) is not None:
            stage.active = self.active(value, f"{where}.active")
        if (value := values.get("parallelism")) is not None:
            stage.parallelism = r.integer(value, f"{where}.parallelism", "parallelism", 1, MAX_PARALLELISM)
        flow_defaults = self.defaults
        if (value := values.get("defaults")) is not None:
            self.defaults = flow_defaults.beneath(self.read_defaults(value, f"{where}.defaults"))
        try:
            self.stage_actions(stage, node, where, fields, values)
        finally:
            self.defaults = flow_defaults
        return stage

    def stage_actions(
        self, stage: Stage, node: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        r = self.r
        actions_node = values.get("actions")
        items = r.sequence(actions_node, f"{where}.actions", "actions") if actions_node is not None else []
        if items is None:
            return
        written = [(index, item) for index, item in enumerate(items) if not is_null(item)]
        if stage.type == "normal" and not written:
            r.error(node, where, f"stage '{stage.name}' has no actions")
        elif stage.type != "normal" and written:
            reason = {
                "pause": "it waits for an approval",
                "start": "it marks where the flow begins",
                "end": "it marks where the flow ends",
            }[stage.type]
            r.error(
                fields["actions"][0], f"{where}.actions", f"a {stage.type} stage has no actions ({reason})"
            )
        else:
            stage.actions = self.actions(written, f"{where}.actions", stage.name)
            check_needs(self.r, stage.actions, self.needs_written, stage.sequencing)

    def read_defaults(self, node: Node, where: str) -> Defaults:
        """``defaults:`` of the flow or a stage, read by the readers of the job keys they give."""
        fields = self.r.mapping(node, where, "defaults", DEFAULT_KEYS)
        if fields is None:
            return NONE
        values = _values(fields)
        self.current_job = None  # its ${{ env.X }} must name one of the flow's environments
        resources = (
            self.resources(values["resources"], f"{where}.resources") if "resources" in values else None
        )
        return Defaults(
            endpoint=self.endpoint(values["endpoint"], f"{where}.endpoint") if "endpoint" in values else None,
            cpu=resources.cpu if resources else None,
            memory=resources.memory if resources else None,
            timeout=(
                self.r.quantity(values["timeout"], f"{where}.timeout", "timeout", parse_duration)[1]
                if "timeout" in values
                else None
            ),
            retries=read_retries(self.r, values["retries"], f"{where}.retries")
            if "retries" in values
            else None,
            environments=(
                self.environments(values["environments"], f"{where}.environments")
                if "environments" in values
                else {}
            ),
        )

    # -- actions --------------------------------------------------------------

    def actions(self, items: list[tuple[int, Node]], where: str, stage_name: str) -> list[Action]:
        """The actions written (empty '-' items, which the original files have, are left out)."""
        self.needs_written = {}
        actions: list[Action] = []
        nodes: list[Node] = []
        for index, item in items:
            action = self.action(item, f"{where}[{index}]", stage_name)
            if action is not None:
                actions.append(action)
                nodes.append(item)
        self.rename_duplicate_actions(actions, nodes, where, stage_name)
        return actions

    def needs(self, node: Node, where: str) -> tuple[str, ...]:
        """``needs: build`` or ``needs: [build, lint]``: names of actions of the same stage."""
        items = [node] if isinstance(node, ScalarNode) else self.r.sequence(node, where, "needs") or []
        names = (self.r.text(item, f"{where}[{i}]", "an action name") for i, item in enumerate(items))
        return tuple(name for name in names if name)

    def rename_duplicate_actions(
        self, actions: list[Action], nodes: list[Node], where: str, stage: str
    ) -> None:
        """Give a repeated action name a free ``-2``, ``-3``... suffix, with a warning.

        Three original flows repeat an action name within a stage; the engine
        needs every job path to be unique, and the first action keeps its name
        so that subscriptions to it still work.
        """
        names = {action.name for action in actions}
        first: dict[str, Node] = {}
        for action, node in zip(actions, nodes, strict=True):
            if not action.name:
                continue
            earlier = first.setdefault(action.name, node)
            if earlier is node:
                continue
            suffix = 2
            while f"{action.name}-{suffix}" in names:
                suffix += 1
            new_name = f"{action.name}-{suffix}"
            names.add(new_name)
            self.r.warning(
                node,
                where,
                f"duplicate action name '{action.name}' in stage '{stage}' (first at "
                f"line {self.r.line(earlier)}); this one is renamed '{new_name}' so "
                "that its jobs have paths of their own",
            )
            action.name, action.path = new_name, f"{stage}.{new_name}"
            for job in action.jobs:
                job.path = f"{action.path}.{job.name}"

    def action(self, node: Node, where: str, stage_name: str) -> Action | None:
        r = self.r
        fields = r.mapping(node, where, "an action", ACTION_KEYS)
        if fields is None:
            return None
        values = _values(fields)
        name = self.name(values, node, where, "action") or ""
        action = Action(name=name, path=f"{stage_name}.{name}", position=self.position(node))
        if (value := values.get("title")) is not None:
            action.title = r.text(value, f"{where}.title", "title") or ""
        if (value := values.get("active")) is not None:
            action.active = self.active(value, f"{where}.active")
        if (value := values.get("needs")) is not None:
            action.needs = self.needs(value, f"{where}.needs")
            self.needs_written[id(action)] = (value, f"{where}.needs")
        jobs_node = values.get("jobs")
        items = r.sequence(jobs_node, f"{where}.jobs", "jobs") if jobs_node is not None else []
        if items is None:
            return action
        first: dict[str, tuple[Node, bool]] = {}
        for index, item in enumerate(items):
            job_where = f"{where}.jobs[{index}]"
            if is_null(item):
                r.warning(item, job_where, "an empty job ('-' with nothing after it) is ignored")
                continue
            self.job_count += 1
            if self.job_count > self.max_jobs:
                r.error(
                    item,
                    job_where,
                    f"the flow has more than {self.max_jobs} jobs, the limit (COOPS_MAX_JOBS raises it)",
                )
                break
            job, named = self.job(item, job_where, action.path, index)
            if job is None:
                continue
            earlier, earlier_named = first.setdefault(job.name, (item, named))
            if earlier is not item:
                unnamed = (
                    ""
                    if named and earlier_named
                    else ("; a job without a name is called 'job-N' after its position")
                )
                r.error(
                    item,
                    job_where,
                    f"duplicate job name '{job.name}' in action '{action.path}' "
                    f"(first at line {r.line(earlier)}){unnamed}",
                )
            action.jobs.append(job)
        if all(is_null(item) for item in items):
            r.error(node, where, f"action '{action.path}' has no jobs")
        return action

    # -- jobs -----------------------------------------------------------------

    def job(self, node: Node, where: str, action_path: str, index: int) -> tuple[Job | None, bool]:
        """The job, and whether its name was written (else it is ``job-N``)."""
        r = self.r
        fields = r.mapping(node, where, "a job", JOB_KEYS, ("kubectl", *RUNTIME_JOB_KEYS))
        if fields is None:
            return None, False
        values = _values(fields)
        name_node = values.get("name")
        name = None
        if name_node is not None:
            name = _as_written(
                name_node, r.name(name_node, f"{where}.name", "job name", STEP_NAME, STEP_NAME_RULE)
            )
        job = Job(name=name or f"job-{index + 1}", path="", position=self.position(node))
        self.current_job = job
        job.path = f"{action_path}.{job.name}"
        # in this order: a key's reader may look at what an earlier one read (type, component)
        readers: tuple[tuple[str, Callable[[Job, Node, str, Fields, dict[str, Node]], None]], ...] = (
            ("title", self._job_title),
            ("type", self._job_type),
            ("endpoint", self._job_endpoint),
            ("service", self._job_service),
            ("command", self._job_command),
            ("environments", self._job_environments),
            ("component", self._job_component),
            ("inputs", self._job_inputs),
            ("outputs", self._job_outputs),
            ("subscriptions", self._job_subscriptions),
            ("resources", self._job_resources),
            ("timeout", self._job_timeout),
            ("retries", self._job_retries),
            ("labels", self._job_labels),
            ("allow_failure", self._job_allow_failure),
            ("when", self._job_when),
            ("pre", self._job_pre),
            ("post", self._job_post),
            ("active", self._job_active),
            ("matrix", self._job_matrix),
            ("strategy", self._job_strategy),
            ("logs", self._job_logs),
        )
        for key, read in readers:
            if (value := values.get(key)) is not None:
                read(job, value, f"{where}.{key}", fields, values)
        apply_defaults(job, self.defaults, {*values, *_resource_keys(values.get("resources"))})
        for key in RUNTIME_JOB_KEYS:
            if key in fields:
                r.warning(
                    fields[key][0],
                    f"{where}.{key}",
                    f"'{key}' is ignored: it belongs to a runtime record "
                    "of the original engine, not to a flow",
                )
        self.check_image(job, fields, values, node, where)
        if job.matrix is not None:
            check_size(r, values["matrix"], f"{where}.matrix", job.matrix, job.path)
        self.check_templates(job, values, node, where)
        return job, name_node is not None

    # -- one reader per job key: (job, value node, where, the job's fields, their values) --
    def _job_logs(self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]) -> None:
        job.logs = read_log_rules(self.r, value, where)
        check_notify_names(self.r, value, job.logs, self.receivers, where)

    def _job_labels(self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]) -> None:
        job.labels = self.labels(value, where)

    def _job_title(self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]) -> None:
        job.title = self.r.text(value, where, "title") or ""

    def _job_type(self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]) -> None:
        job.type = cast(JobType, self.r.choice(value, where, "job type", JOB_TYPES) or job.type)

    def _job_endpoint(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.endpoint = self.endpoint(value, where)

    def _job_service(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.service = read_service(self.r, value, where)
        if job.type != "service":
            self.r.error(fields["service"][0], where, "'service' is only for jobs of type service")

    def _job_command(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.command = self.command(value, where)

    def _job_environments(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.environments = self.environments(value, where)

    def _job_component(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.component = self.component(value, where, fields, values)
        if "endpoint" in values:
            self.r.error(
                fields["endpoint"][0],
                where.removesuffix(".component") + ".endpoint",
                "a job runs either an image ('endpoint') or a component ('component'), not both",
            )

    def _job_inputs(self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]) -> None:
        if job.component is not None:
            self.component_inputs(job.component, value, where)
        elif "component" not in values:
            job.inputs = self.inputs(value, where)

    def _job_outputs(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.outputs = self.outputs(value, where)

    def _job_subscriptions(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.subscriptions = self.subscriptions(value, where, job)

    def _job_resources(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.resources = self.resources(value, where)

    def _job_timeout(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.timeout = self.r.quantity(value, where, "timeout", parse_duration)[1]

    def _job_retries(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.retries, job.backoff = read_retries(self.r, value, where)

    def _job_allow_failure(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        job.allow_failure = bool(self.r.boolean(value, where, "allow_failure"))

    def _job_when(self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]) -> None:
        self.when(job, value, where)

    def _job_pre(self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]) -> None:
        job.pre = read_lua(self.r, value, where, "pre")

    def _job_post(self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]) -> None:
        job.post = read_lua(self.r, value, where, "post")

    def _job_active(self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]) -> None:
        job.active = self.active(value, where)

    def _job_matrix(self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]) -> None:
        job.matrix = read_matrix(self.r, value, where, self.position(value))
        if job.matrix is not None:
            self.check_matrix_values(job.matrix, value, where)
        if job.matrix is not None and job.matrix.source is not None:
            source, key = job.matrix.source
            subscription = Subscription(source=source, key=key, env="")
            self.pending.append(PendingSubscription(job, subscription, value, where, what="matrix from"))

    def check_matrix_values(self, matrix: Matrix, node: Node, where: str) -> None:
        """Matrix values may name what is known before the run starts: ``env.X`` of the
        flow's environments (or a trigger's), ``flow.*`` and ``trigger.*``."""
        texts = [value for _, axis in matrix.axes for value in axis]
        texts += [value for entry in (*matrix.include, *matrix.exclude) for _, value in entry]
        for text in (text for text in texts if "${{" in text):
            at = _scalar_holding(node, text)
            for problem in syntax_problems(text):
                self.r.error(at, where, problem)
            for reference in references(text):
                if reference.space == "env":
                    self.env_refs.append((at, where, reference.name, None))
                elif reference.space not in ("flow", "trigger"):
                    self.r.error(
                        at,
                        where,
                        f"'${{{{ {reference.space}.{reference.name} }}}}': a matrix value may name only "
                        "env, flow and trigger values (what is known before the run starts)",
                    )

    def _job_strategy(
        self, job: Job, value: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> None:
        if job.matrix is None:
            if "matrix" not in values:
                self.r.error(fields["strategy"][0], where, "'strategy' is only for a job with a matrix")
            return
        job.matrix = read_strategy(self.r, value, where, job.matrix)

    def check_templates(self, job: Job, values: dict[str, Node], node: Node, where: str) -> None:
        """Every ``${{ ... }}`` of a job once it is read: a key of its own matrix (a ``from:``
        list's keys are known only when it runs), an input it has (not named in its inputs),
        an output of a job that runs before it (checked once the flow is built, as
        subscriptions are); env names in its command, endpoint and service too."""
        given = job.component.inputs if job.component else job.inputs
        written: dict[str, list[str]] = {
            "environments": list(job.environments.values()),
            "inputs": [str(value) for value in given.values()],
            "command": list(job.command or ()),
            "endpoint": [job.endpoint or ""],
            "service": job.service.texts() if job.service is not None else [],
        }
        for key, texts in written.items():
            if key in ("command", "endpoint"):
                for text in texts:
                    for problem in syntax_problems(text):
                        self.r.error(_scalar_holding(values.get(key, node), text), f"{where}.{key}", problem)
            seen: set[Reference] = set()
            for reference in (found for text in texts for found in references(text)):
                if reference not in seen:
                    seen.add(reference)
                    # a value a default gave is pointed at on the job that got it
                    self.check_reference(job, reference, key, values.get(key, node), f"{where}.{key}")

    def check_reference(self, job: Job, reference: Reference, key: str, node: Node, where: str) -> None:
        """One reference of the job's ``key`` (see :meth:`check_templates`)."""
        space, name = reference.space, reference.name
        at = _scalar_holding(node, f"outputs.{name}" if space == "jobs" else f"{space}.{name}")
        written = f"'${{{{ {space}.{name} }}}}'"
        if space == "matrix":
            known = None if job.matrix is None else {*job.matrix.keys, "index", "count"}
            if known is None:
                self.r.error(at, where, f"{written} is used, but job '{job.name}' has no matrix")
            elif job.matrix is not None and job.matrix.source is None and name not in known:
                self.r.error(
                    at,
                    where,
                    f"{written}: the matrix of job '{job.name}' has no key {name}"
                    f"{did_you_mean(name, sorted(known))}",
                )
        elif space == "inputs":
            if key == "inputs":
                self.r.error(at, where, f"{written}: an input cannot name another input")
            elif job.component is None and name not in job.inputs:
                inputs = ", ".join(job.inputs) or "none"
                self.r.error(
                    at,
                    where,
                    f"{written}: job '{job.name}' has no input {name} (its inputs: {inputs})"
                    f"{did_you_mean(name, list(job.inputs))}",
                )
        elif space == "jobs":
            assert reference.job is not None
            subscription = Subscription(source=reference.job, key=name, env="")
            self.pending.append(PendingSubscription(job, subscription, at, where, what="reference"))
        elif space == "env" and key in ("command", "endpoint", "service"):
            self.env_refs.append((at, where, name, job))

    def active(self, node: Node, where: str) -> bool:
        """``active: false`` turns a flow, stage, action or job off without deleting it."""
        return self.r.boolean(node, where, "active") is not False

    def component(
        self, node: Node, where: str, fields: Fields, values: dict[str, Node]
    ) -> ComponentUse | None:
        """``component: namespace/name[:version]``, its parts checked (resolved before a run)."""
        text = self.r.text(node, where, "component")
        if text is None:
            return None
        try:
            parse_ref(text)
        except RefInvalid as exc:
            self.r.error(node, where, f"component: {exc}")
            return None
        overrides = set()
        resources = values.get("resources")
        if resources is not None and isinstance(resources, MappingNode):
            overrides |= {key.value for key, _ in resources.value if isinstance(key, ScalarNode)}
        if "timeout" in values:
            overrides.add("timeout")
        return ComponentUse(ref=text, position=self.position(node), overrides=frozenset(overrides))

    def component_inputs(self, use: ComponentUse, node: Node, where: str) -> None:
        """A component's inputs keep their YAML types: the spec checks them on resolution."""
        r = self.r
        use.inputs_position = self.position(node)
        for key, value, item_where in r.pairs(node, where, "inputs"):
            if not KEY.fullmatch(key.value):
                r.error(key, item_where, f"input name '{key.value}' is not valid: {KEY_RULE}")
                continue
            try:
                use.inputs[key.value] = self.doc.construct(value)
            except ValueError as exc:
                r.error(value, item_where, f"input '{key.value}': {exc}")
                continue
            use.input_positions[key.value] = self.position(key)

    def when(self, job: Job, node: Node, where: str) -> None:
        """``on_success``, ``on_failure``, ``always``, or a Lua expression (not a bare word)."""
        text = self.r.text(node, where, "when")
        # A bare word is a mistyped choice, except Lua's own literals ("false": never run).
        bare = BARE_WORD.fullmatch(text.strip()) and text.strip() not in LUA_LITERALS if text else False
        if text is None or text in WHENS or bare:
            job.when = cast(When, self.r.choice(node, where, "when", WHENS) or job.when)
            return
        job.condition = read_lua(self.r, node, where, "when", expression=True)
        job.when = "always"

    def check_image(self, job: Job, fields: Fields, values: dict[str, Node], node: Node, where: str) -> None:
        """A job needs an image to run; ``kubectl`` (not supported) is no substitute."""
        # if invalid, that is already reported; a component is resolved to its image later
        has_endpoint = any(values.get(key) is not None for key in ("endpoint", "component")) or bool(
            job.endpoint
        )
        kubectl = fields.get("kubectl")
        if kubectl is not None and has_endpoint:
            self.r.warning(kubectl[0], f"{where}.kubectl", KUBECTL_WARNING)
        elif kubectl is not None:
            # An error by rights, but one original flow (bmi) has such jobs and must
            # validate; `coops run` refuses them (check_runnable_locally).
            self.r.warning(
                kubectl[0],
                f"{where}.kubectl",
                "kubectl is not supported, and this job has no endpoint image to run instead: "
                "the flow validates but this job cannot run",
            )
        elif (
            not has_endpoint
            and values.get("command") is None  # a command alone runs on the local executor
            and not (job.type == "service" and values.get("service") is not None)
        ):
            self.r.error(
                node, where, f"job '{job.path}' has no 'endpoint' (the image to run) and no 'command'"
            )

    def endpoint(self, node: Node, where: str) -> str | None:
        text = self.r.text(node, where, "endpoint")
        if text is None:
            return None
        if not text.strip() or _SPACE.search(EXPRESSION.sub("x", text)):  # references are filled in
            self.r.error(node, where, f"endpoint {describe(node)} is not an image reference")
            return None
        return text

    def command(self, node: Node, where: str) -> list[str] | None:
        """A list of arguments, or one string run by ``sh -c``."""
        r = self.r
        if isinstance(node, ScalarNode):
            text = r.text(node, where, "command")
            if not text:
                r.error(node, where, "command is empty")
                return None
            return ["sh", "-c", text]
        items = r.sequence(node, where, "command")
        if items is None:
            return None
        if not items:
            r.error(node, where, "command is an empty list")
            return None
        command: list[str] = []
        for index, item in enumerate(items):
            if is_null(item):
                r.error(item, f"{where}[{index}]", "a command argument cannot be empty (null); quote it: ''")
                continue
            text = r.text(item, f"{where}[{index}]", "a command argument")
            if text is not None:
                command.append(text)
        return command

    def inputs(self, node: Node, where: str) -> dict[str, str]:
        r = self.r
        inputs: dict[str, str] = {}
        for key, value, item_where in r.pairs(node, where, "inputs"):
            if not KEY.fullmatch(key.value):
                r.error(key, item_where, f"input name '{key.value}' is not valid: {KEY_RULE}")
                continue
            text = r.stringify(value, item_where, f"input '{key.value}'")
            if text is not None:
                self.references(value, item_where, text)
                inputs[key.value] = text
        return inputs

    def references(self, node: Node, where: str, text: str) -> None:
        """``${{ ... }}`` must be a well-formed reference; env names are checked once every
        environment is known (:meth:`check_env_refs`), the others once the job is read
        (:meth:`check_templates`)."""
        for problem in syntax_problems(text):
            self.r.error(node, where, problem)
        for name in env_names(text):
            self.env_refs.append((node, where, name, self.current_job))

    def check_env_refs(self, flow: Flow) -> None:
        """Every ``${{ env.NAME }}`` must name a variable of the flow's environments, the
        job's (for its inputs), or one the run is given (a trigger's, the engine's)."""
        for node, where, name, job in self.env_refs:
            known = {*flow.environments, *RUN_VARIABLES}
            if job is not None:
                known.update(job.environments, (sub.env for sub in job.subscriptions))
                if job.service is not None and job.service.callback:
                    known.add("CO_CALLBACK_URL")
            if name not in known:
                hint = did_you_mean(name, sorted(known))
                scope = "flow's or the job's" if job is not None else "flow's"
                self.r.error(
                    node,
                    where,
                    f"'${{{{ env.{name} }}}}': no variable {name} in the {scope} environments, "
                    f"nor one a run is given{hint}",
                )

    def outputs(self, node: Node, where: str) -> list[str]:
        r = self.r
        outputs: list[str] = []
        first: dict[str, Node] = {}
        for index, item in enumerate(r.sequence(node, where, "outputs") or []):
            item_where = f"{where}[{index}]"
            name = r.name(item, item_where, "output name", KEY, KEY_RULE)
            if name is None:
                continue
            if not r.first_time(first, name, item, item_where, f"output '{name}' is declared twice"):
                continue
            outputs.append(name)
        return outputs

    def subscriptions(self, node: Node, where: str, job: Job) -> list[Subscription]:
        """Parse ``stage.action.job[KEY]: ENV`` entries; whether they resolve is checked later."""
        r = self.r
        subscriptions: list[Subscription] = []
        first: dict[str, Node] = {}
        for key, value, item_where in r.pairs(node, where, "subscriptions"):
            match = SUBSCRIPTION.fullmatch(key.value)
            if match is None:
                r.error(key, item_where, f"subscription '{key.value}' is not stage.action.job[KEY]")
                continue
            stage, action, source_job, output = match.groups()
            output, bar, aggregate = output.partition("|")
            if bar and aggregate not in AGGREGATES:
                r.error(
                    key,
                    item_where,
                    f"subscription '{key.value}': '|{aggregate}' is not an aggregate "
                    f"(use {', '.join('|' + a for a in AGGREGATES)}){did_you_mean(aggregate, AGGREGATES)}",
                )
                continue
            if not KEY.fullmatch(output):
                r.error(
                    key,
                    item_where,
                    f"subscription '{key.value}': output name '{output}' is not valid: {KEY_RULE}",
                )
                continue
            default: str | None = None
            if isinstance(value, MappingNode):  # {env: NAME, default: VALUE}: optional
                fields = r.mapping(value, item_where, "an optional subscription", SUBSCRIPTION_KEYS)
                if fields is None:
                    continue
                values = _values(fields)
                missing = [name for name in SUBSCRIPTION_KEYS if name not in values]
                if missing:
                    r.error(
                        value,
                        item_where,
                        f"subscription '{key.value}' needs {' and '.join(missing)} "
                        "(written {env: NAME, default: VALUE})",
                    )
                    continue
                default = r.stringify(values["default"], f"{item_where}.default", "subscription default")
                if default is None:
                    continue
                value = values["env"]
            env = r.name(value, item_where, "subscription variable", ENV_NAME, ENV_RULE)
            if env is None:
                continue
            if not r.first_time(
                first, env, value, item_where, f"variable '{env}' is set by two subscriptions"
            ):
                continue
            subscription = Subscription(
                source=f"{stage}.{action}.{source_job}",
                key=output,
                env=env,
                default=default,
                aggregate=aggregate or None,
            )
            subscriptions.append(subscription)
            self.pending.append(PendingSubscription(job, subscription, key, item_where))
        return subscriptions

    def resources(self, node: Node, where: str) -> Resources:
        r = self.r
        resources = Resources()
        fields = r.mapping(node, where, "resources", RESOURCE_KEYS)
        if fields is None:
            return resources
        values = _values(fields)
        if (value := values.get("cpu")) is not None:
            resources.cpu = r.quantity(value, f"{where}.cpu", "cpu", parse_cpu)[1]
        if (value := values.get("memory")) is not None:
            resources.memory = r.quantity(value, f"{where}.memory", "memory", parse_memory)[1]
        return resources


LOCAL_CALLBACK = (
    "this service job waits for a callback (callback: true), which needs a server the service can "
    "reach (`coops server`, or `coops run --server URL`); `coops run` alone cannot run this flow"
)


#: The executors that run each job in its image.
IMAGE_EXECUTORS = ("docker", "swarm", "kubernetes")


def check_runnable_locally(
    flow: Flow, file: str = "<flow>", executor: str = "docker", *, server: bool = False
) -> list[Diagnostic]:
    """Errors for what ``coops run`` (no server; or the server, with ``server``) cannot do
    with a valid flow on ``executor``.

    Service jobs that wait for a callback need the server; a job without an endpoint
    (written for kubectl, or a command for the local executor) has no image
    for the executors that run images; the local executor needs a command.
    """
    diagnostics: list[Diagnostic] = []

    def error(position: Position | None, where: str, message: str) -> None:
        line, column = (position.line, position.column) if position else (None, None)
        diagnostics.append(Diagnostic("error", message, file, line, column, where))

    for stage in flow.stages:
        for action in stage.actions:
            for job in action.jobs:
                if job.type == "service":
                    if job.service is not None and job.service.callback and not server:
                        error(job.position, job.path, LOCAL_CALLBACK)
                elif executor == "local" and not job.command:
                    error(
                        job.position,
                        job.path,
                        f"job '{job.path}' has no command; the local executor runs a job's command "
                        "(use the docker executor to run its image)",
                    )
                elif executor in IMAGE_EXECUTORS and job.endpoint is None and job.component is None:
                    error(
                        job.position,
                        job.path,
                        f"job '{job.path}' has no endpoint image for the {executor} executor "
                        "(add `endpoint:`, or run it with --executor local)",
                    )
    return diagnostics
