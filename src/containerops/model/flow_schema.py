"""The JSON Schema of the flow format, for editors (``coops schema flow``).

Editors complete and check YAML against a JSON Schema (VS Code's YAML extension, the
web UI's editor). The validator (``containerops.model.validate``) stays the judge: it
reads what no schema can say (positions, references between jobs, Lua, did-you-mean).
The schema is built from the validator's own key lists, name rules and quantity
patterns, so a key cannot be added to one and not the other (tests/model/test_flow_schema.py
checks each list against the properties below), and every flow the validator accepts,
the 80 original ones included, passes the schema.
"""

from __future__ import annotations

from typing import Any

from containerops.model.concurrency import CONCURRENCY_KEYS, MAX_GROUP
from containerops.model.defaults import DEFAULT_KEYS
from containerops.model.hooks import (
    GITHUB_EVENTS,
    GITLAB_EVENTS,
    RECEIVER_KEYS,
    RUN_OUTCOMES,
    TRIGGER_KEYS,
)
from containerops.model.logrules import FORWARD_KEYS, MATCH_KEYS, OTLP_KEYS
from containerops.model.matrix import (
    AXIS,
    DEFAULT_MAX_INSTANCES,
    HARD_MAX_INSTANCES,
    MATRIX_KEYS,
    STRATEGY_KEYS,
)
from containerops.model.names import ENV_NAME, KEY, STEP_NAME
from containerops.model.quantities import text_pattern
from containerops.model.retries import MAX_FACTOR, MAX_RETRIES, RETRY_KEYS
from containerops.model.service import METHODS, SERVICE_KEYS
from containerops.model.validate import (
    ACTION_KEYS,
    FLOW_KEYS,
    JOB_KEYS,
    JOB_TYPES,
    RESOURCE_KEYS,
    RUNTIME_FLOW_KEYS,
    RUNTIME_JOB_KEYS,
    SEQUENCINGS,
    STAGE_KEYS,
    STAGE_TYPES,
    SUBSCRIPTION_KEYS,
    WHENS,
)

Schema = dict[str, Any]
SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"


def _pattern(regex: str) -> str:
    return f"^(?:{regex})$"


def _text(description: str, **more: Any) -> Schema:
    return {"type": "string", "description": description, **more}


def _quantity(kind: str, description: str) -> Schema:
    return {
        "description": description,
        "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": text_pattern(kind)}],
    }


def _one_or_many(item: Schema, description: str) -> Schema:
    return {"description": description, "anyOf": [item, {"type": "array", "items": item}]}


def _object(properties: dict[str, Schema], description: str, *, required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {
        "type": "object",
        "description": description,
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


_SCALAR: Schema = {"type": ["string", "number", "boolean", "null"]}
_NAME = _text(
    "Letters, digits, '-' and '_'; part of the job paths stage.action.job.",
    pattern=_pattern(STEP_NAME.pattern),
)
_DURATION = _quantity("duration", "Seconds, or a number with a unit: 500ms, 30s, 5m, 1h30m, 2d. 0: none.")
_ACTIVE: Schema = {"type": "boolean", "description": "false: kept in the flow, skipped as 'inactive'."}
_ENVIRONMENTS: Schema = {
    "description": "Variables: {NAME: value}, or the original [{NAME: value}, ...].",
    "anyOf": [
        {
            "type": "object",
            "propertyNames": {"pattern": _pattern(f"{ENV_NAME.pattern}|CO-DATA")},
            "additionalProperties": _SCALAR,
        },
        {"type": "array", "items": {"type": ["object", "null"], "additionalProperties": _SCALAR}},
    ],
}
_RESOURCES_PROPERTIES: dict[str, Schema] = {
    "cpu": _quantity("cpu", "Cores (2, 0.5) or millicores (500m); 0: no limit."),
    "memory": _quantity("memory", "Bytes, or 512M, 4G, 1Gi, 100k; 0: no limit."),
}
_RESOURCES = _object(_RESOURCES_PROPERTIES, "Limits of the job's container.")
_RETRY_LIMIT: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_RETRIES}
RETRY_PROPERTIES: dict[str, Schema] = {
    "limit": {**_RETRY_LIMIT, "description": "Attempts after the first, at most."},
    "backoff": _quantity("duration", "Wait before the first retry."),
    "factor": {
        "type": "number",
        "minimum": 1,
        "maximum": MAX_FACTOR,
        "description": "Each wait is this times the last.",
    },
    "max_backoff": _quantity("duration", "No wait longer than this."),
    "on_exit_codes": {
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "maximum": 255},
        "description": "Retry only attempts that exited with one of these.",
    },
}
_RETRIES: Schema = {
    "description": "Attempts after the first: a number (retried at once), or {limit, backoff, ...}.",
    "anyOf": [_RETRY_LIMIT, _object(RETRY_PROPERTIES, "Retries with a backoff.", required=("limit",))],
}
_ENDPOINT = _text("The image the job runs, e.g. containerops/base:busybox.")

DEFAULTS_PROPERTIES: dict[str, Schema] = {
    "endpoint": _ENDPOINT,
    "resources": _RESOURCES,
    "timeout": _DURATION,
    "retries": _RETRIES,
    "environments": _ENVIRONMENTS,
}
_DEFAULTS = _object(DEFAULTS_PROPERTIES, "What jobs get for the keys they do not write (theirs win).")

SERVICE_PROPERTIES: dict[str, Schema] = {
    "url": _text(
        "http:// or https:// address; ${{ inputs.x }}, ${{ env.X }}, ${{ secrets.X }} are filled in."
    ),
    "method": {"enum": list(METHODS), "description": "GET by default, POST when there is a body."},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "body": {"description": "JSON (a mapping or a list) or text."},
    "expect": _one_or_many(
        {"type": "integer", "minimum": 100, "maximum": 599}, "Statuses that succeed; any 2xx by default."
    ),
    "outputs": {
        "type": "object",
        "description": "OUTPUT: a JSON path into the answer ($.data.id).",
        "additionalProperties": {"type": "string"},
    },
    "callback": {
        "type": "boolean",
        "description": "Wait for the service to post the result to CO_CALLBACK_URL.",
    },
    "timeout": _DURATION,
}

_SUBSCRIPTION: Schema = {
    "type": "object",
    "description": '"stage.action.job[KEY]": ENV, or {env: ENV, default: VALUE} (optional).',
    "additionalProperties": {
        "anyOf": [
            {"type": "string", "pattern": _pattern(ENV_NAME.pattern)},
            _object(
                {"env": {"type": "string", "pattern": _pattern(ENV_NAME.pattern)}, "default": _SCALAR},
                "An optional subscription: the default when the job did not give KEY.",
                required=("env",),
            ),
        ]
    },
}

_MATRIX_VALUES: Schema = {
    "anyOf": [
        {"type": "array", "minItems": 1, "items": _SCALAR},
        _object(
            {"count": {"type": "integer", "minimum": 1, "description": "0 to count-1."}},
            "count: N makes the values 0 to N-1.",
            required=("count",),
        ),
    ]
}
_MATRIX_ENTRY: Schema = {
    "type": "object",
    "additionalProperties": _SCALAR,
    "propertyNames": {"pattern": _pattern(AXIS.pattern)},
}
MATRIX_PROPERTIES: dict[str, Schema] = {
    "include": {"type": "array", "items": _MATRIX_ENTRY, "description": "Whole instances added."},
    "exclude": {
        "type": "array",
        "items": _MATRIX_ENTRY,
        "description": "Instances removed (matching every key given).",
    },
    "from": _text("stage.action.job[KEY]: an earlier job's output holding a JSON list."),
}
STRATEGY_PROPERTIES: dict[str, Schema] = {
    "max_parallel": {"type": "integer", "minimum": 1, "description": "At most this many instances at once."},
    "fail_fast": {"type": "boolean", "description": "The first failure cancels the other instances."},
    "max_instances": {
        "type": "integer",
        "minimum": 1,
        "maximum": HARD_MAX_INSTANCES,
        "description": f"Refuse more instances than this (default {DEFAULT_MAX_INSTANCES:,}).",
    },
}

JOB_PROPERTIES: dict[str, Schema] = {
    "name": _NAME,
    "title": _text("For people."),
    "type": {
        "enum": list(JOB_TYPES),
        "description": "component (a container; the default) or service (an HTTP call).",
    },
    "endpoint": _ENDPOINT,
    "component": _text("A component of the repository: namespace/name[:version]."),
    "service": _object(SERVICE_PROPERTIES, "The HTTP call of a type: service job.", required=("url",)),
    "command": {
        "description": "Arguments, or one string run by sh -c.",
        "anyOf": [
            {"type": "string", "minLength": 1},
            {"type": "array", "minItems": 1, "items": {"type": ["string", "number", "boolean"]}},
        ],
    },
    "environments": _ENVIRONMENTS,
    "inputs": {
        "type": "object",
        "description": "Inputs (CO_<NAME> and CO_DATA); for a component, checked against its spec.",
        "propertyNames": {"pattern": _pattern(KEY.pattern)},
    },
    "outputs": {
        "type": "array",
        "items": {"type": "string", "pattern": _pattern(KEY.pattern)},
        "description": "Keys the job prints as [COUT] KEY = value.",
    },
    "subscriptions": {
        "type": "array",
        "items": _SUBSCRIPTION,
        "description": "Outputs of earlier jobs, as variables.",
    },
    "resources": _RESOURCES,
    "timeout": _DURATION,
    "retries": _RETRIES,
    "labels": {
        "type": "object",
        "additionalProperties": _SCALAR,
        "description": "Run only where all these labels match: on a worker that has them (coops worker "
        "--labels), on a cluster's nodes labelled so (swarm, kubernetes).",
    },
    "allow_failure": {"type": "boolean", "description": "A failure is recorded and the flow goes on."},
    "when": {
        "description": "on_success (default), on_failure, always, or a Lua expression.",
        "anyOf": [{"enum": list(WHENS)}, {"type": ["string", "boolean"]}],
    },
    "pre": _text("Lua run before the job: may change inputs and env, skip(why) or fail(why)."),
    "post": _text("Lua run after each attempt: sees exit_code, result, reason, outputs."),
    "active": _ACTIVE,
    "matrix": {
        "type": "object",
        "description": "Run the job once per combination of its keys' values (${{ matrix.KEY }}).",
        "properties": MATRIX_PROPERTIES,
        "additionalProperties": _MATRIX_VALUES,
        "propertyNames": {"pattern": _pattern(AXIS.pattern)},
    },
    "strategy": _object(STRATEGY_PROPERTIES, "How a matrix job's instances run."),
}
#: Keys the original engine's files carry: read, warned about, not advertised.
TOLERATED_JOB_KEYS = ("kubectl", *RUNTIME_JOB_KEYS)

ACTION_PROPERTIES: dict[str, Schema] = {
    "name": _NAME,
    "title": _text("For people."),
    "active": _ACTIVE,
    "needs": _one_or_many(
        {"type": "string", "pattern": _pattern(STEP_NAME.pattern)},
        "Actions of the same stage that must finish before this one starts.",
    ),
    "jobs": {
        "type": "array",
        "items": {"$ref": "#/$defs/job"},
        "description": "Run one after another.",
    },
}

STAGE_PROPERTIES: dict[str, Schema] = {
    "type": {"enum": list(STAGE_TYPES), "description": "start | normal (default) | pause | end."},
    "name": _NAME,
    "title": _text("For people."),
    "sequencing": {"enum": list(SEQUENCINGS), "description": "How the stage's actions run."},
    "timeout": _DURATION,
    "duration": _quantity("duration", "Pause stages: go on by themselves after this long."),
    "parallelism": {"type": "integer", "minimum": 1, "description": "At most this many of its jobs at once."},
    "active": _ACTIVE,
    "defaults": _DEFAULTS,
    "actions": {"type": "array", "items": {"$ref": "#/$defs/action"}},
}

_WORDS = {"type": "string"}
_HOOK_VALUES: dict[str, Schema] = {
    "name": _text("What a log rule's notify calls this receiver."),
    "on": _one_or_many({"enum": list(RUN_OUTCOMES)}, "Which run outcomes it is told of."),
    "url": _text("http:// or https:// address."),
    "secret": _text(
        "Name of a secret of the namespace (coops secret set).", pattern=_pattern(ENV_NAME.pattern)
    ),
    "token": _text("Name of a secret holding the token callers send.", pattern=_pattern(ENV_NAME.pattern)),
    "to": _one_or_many(_WORDS, "Addresses."),
    "address": _one_or_many(_WORDS, "Addresses (the original spelling)."),
    "from": _WORDS,
    "host": _WORDS,
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "context": _WORDS,
    "repository": _text("owner/name."),
    "branches": _one_or_many(_WORDS, "Branch names or patterns (release/*)."),
    "schedule": _text("Five cron fields: minute hour day-of-month month day-of-week."),
    "timezone": _text("An IANA name, such as UTC or Europe/Paris."),
}


def _typed(kinds: dict[str, tuple[str, ...]], aliases: dict[str, str], what: str) -> Schema:
    """Objects told apart by ``type``, each with its own keys."""
    branches: list[Schema] = []
    for kind, keys in kinds.items():
        names = [kind, *(alias for alias, meant in aliases.items() if meant == kind)]
        properties: dict[str, Schema] = {"type": {"enum": names}}
        for key in keys:
            if key == "events":
                events = GITHUB_EVENTS if kind == "github" else GITLAB_EVENTS
                properties[key] = _one_or_many({"enum": list(events)}, "Events that start the flow.")
            elif key != "type":
                properties[key] = _HOOK_VALUES[key]
        branches.append(
            {
                "if": {"properties": {"type": {"enum": names}}},
                "then": _object(properties, f"A {kind} {what}."),
            }
        )
    every = [kind for kind in kinds] + list(aliases)
    return {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": every}},
        "allOf": branches,
    }


_GROUP = _text(
    "Runs of the same group run one at a time; ${{ env.NAME }} is resolved when a run starts.",
    minLength=1,
    maxLength=MAX_GROUP,
)
CONCURRENCY_PROPERTIES: dict[str, Schema] = {
    "group": _GROUP,
    "cancel_in_progress": {
        "type": "boolean",
        "description": "A newer run cancels the older unfinished runs of its group instead of waiting.",
    },
}
_CONCURRENCY: Schema = {
    "description": "A group (newer runs wait for older ones), or {group, cancel_in_progress}.",
    "anyOf": [_GROUP, _object(CONCURRENCY_PROPERTIES, "A concurrency group.", required=("group",))],
}

MATCH_RULE_PROPERTIES: dict[str, Schema] = {
    "match": _text("An RE2 pattern a line is searched for."),
    "notify": _one_or_many(_WORDS, "Names of the flow's receivers told of a matching line."),
    "at_most": _text(
        "Notifications of the rule at most: COUNT/DURATION (default 1/5m).", pattern=r"^\s*\d+\s*/"
    ),
}
FORWARD_RULE_PROPERTIES: dict[str, Schema] = {
    "webhook": _text("http:// or https:// address the lines are posted to, in JSON batches."),
    "secret": _HOOK_VALUES["secret"],
    "batch": {"type": "integer", "minimum": 1, "maximum": 10_000, "description": "Lines a post at most."},
    "every": _DURATION,
    "keep": {
        "type": "integer",
        "minimum": 1,
        "maximum": 10_000_000,
        "description": "Unsent lines kept at most.",
    },
}
OTLP_RULE_PROPERTIES: dict[str, Schema] = {
    "endpoint": _text("The collector's OTLP/HTTP logs address, e.g. http://collector:4318/v1/logs."),
}
_LOG_RULE: Schema = {
    "description": "A log rule: a match that notifies receivers, or a forward of every line to a webhook.",
    "anyOf": [
        _object(
            MATCH_RULE_PROPERTIES, "Tell receivers of lines matching a pattern.", required=("match", "notify")
        ),
        _object(
            {"forward": _object(FORWARD_RULE_PROPERTIES, "Where and how lines go.", required=("webhook",))},
            "Post every line to a webhook.",
            required=("forward",),
        ),
        _object(
            {"otlp": _object(OTLP_RULE_PROPERTIES, "The collector.", required=("endpoint",))},
            "Export every line as an OpenTelemetry log record.",
            required=("otlp",),
        ),
    ],
}
JOB_PROPERTIES["logs"] = {
    "type": "array",
    "items": _LOG_RULE,
    "description": "Log rules for this job's lines only (the flow's logs: apply to every job's).",
}

FLOW_PROPERTIES: dict[str, Schema] = {
    "uri": _text("namespace/repository/name."),
    "title": _text("For people."),
    "version": {"type": ["string", "number"]},
    "tag": {"type": ["string", "number"]},
    "timeout": _DURATION,
    "environments": _ENVIRONMENTS,
    "labels": {"type": "object", "additionalProperties": _SCALAR},
    "receivers": {"type": "array", "items": _typed(RECEIVER_KEYS, {"mail": "email"}, "receiver")},
    "triggers": {"type": "array", "items": _typed(TRIGGER_KEYS, {}, "trigger")},
    "logs": {"type": "array", "items": _LOG_RULE},
    "max_job_log": _quantity(
        "memory", "Characters of log an attempt stores at most (512M, 1G); the server's cap still holds."
    ),
    "active": _ACTIVE,
    "defaults": _DEFAULTS,
    "parallelism": {"type": "integer", "minimum": 1, "description": "At most this many of its jobs at once."},
    "concurrency": _CONCURRENCY,
    "stages": {"type": "array", "items": {"$ref": "#/$defs/stage"}},
}

#: Each schema object beside the validator's key list it must match.
KEY_LISTS: tuple[tuple[str, dict[str, Schema], tuple[str, ...]], ...] = (
    ("flow", FLOW_PROPERTIES, FLOW_KEYS),
    ("stage", STAGE_PROPERTIES, STAGE_KEYS),
    ("action", ACTION_PROPERTIES, ACTION_KEYS),
    ("job", JOB_PROPERTIES, JOB_KEYS),
    ("defaults", DEFAULTS_PROPERTIES, DEFAULT_KEYS),
    ("service", SERVICE_PROPERTIES, SERVICE_KEYS),
    ("resources", _RESOURCES_PROPERTIES, RESOURCE_KEYS),
    ("retries", RETRY_PROPERTIES, RETRY_KEYS),
    ("matrix", MATRIX_PROPERTIES, MATRIX_KEYS),
    ("strategy", STRATEGY_PROPERTIES, STRATEGY_KEYS),
    ("concurrency", CONCURRENCY_PROPERTIES, CONCURRENCY_KEYS),
    ("match rule", MATCH_RULE_PROPERTIES, MATCH_KEYS),
    ("forward rule", FORWARD_RULE_PROPERTIES, FORWARD_KEYS),
    ("otlp rule", OTLP_RULE_PROPERTIES, OTLP_KEYS),
    ("subscription", _SUBSCRIPTION["additionalProperties"]["anyOf"][1]["properties"], SUBSCRIPTION_KEYS),
)


def _or_empty(schema: Schema) -> Schema:
    """The original files have empty ``-`` items in their lists, which the validator skips."""
    return {**schema, "type": [schema["type"], "null"]}


def flow_json_schema() -> Schema:
    """The JSON Schema (draft 2020-12) of a flow file, YAML or JSON."""
    job = _object(JOB_PROPERTIES, "A job: one container (or HTTP call) with its inputs and outputs.")
    job["properties"] = {
        **JOB_PROPERTIES,
        **{key: {"description": "Of the original engine: ignored."} for key in TOLERATED_JOB_KEYS},
    }
    flow = _object(
        FLOW_PROPERTIES, "A ContainerOps flow: stages in order, actions, jobs.", required=("uri", "stages")
    )
    flow["properties"] = {
        **FLOW_PROPERTIES,
        **{key: {"description": "Of the original engine: ignored."} for key in RUNTIME_FLOW_KEYS},
    }
    return {
        "$schema": SCHEMA_URI,
        "title": "ContainerOps flow",
        **flow,
        "$defs": {
            "stage": _or_empty(
                _object(STAGE_PROPERTIES, "A stage: its actions run in sequence or in parallel.")
            ),
            "action": _or_empty(_object(ACTION_PROPERTIES, "An action: its jobs run one after another.")),
            "job": _or_empty(job),
        },
    }
