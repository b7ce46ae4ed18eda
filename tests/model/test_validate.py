"""What a valid flow becomes, and what is said, where, about each kind of mistake."""

from __future__ import annotations

import textwrap

import pytest

from containerops.model.diagnostics import FlowInvalid
from containerops.model.flow import Position, Resources, Subscription
from containerops.model.loader import parse_flow
from containerops.model.validate import check_runnable_locally

FULL = textwrap.dedent(
    """\
    uri: demo/hello/ci
    title: Hello
    version: 1
    tag: latest
    timeout: 10m
    environments:
      - GREETING: hi
    labels: {team: infra, tier: 2}
    receivers:
      - {type: mail, address: someone@example.com}
    triggers:
      - {type: webhook, token: HOOK_TOKEN}
    stages:
      - {type: start, name: start}
      - type: normal
        name: build
        title: Build
        sequencing: sequence
        actions:
          - name: unit
            title: Unit tests
            jobs:
              - name: test
                title: Run them
                type: component
                endpoint: containerops/base:busybox
                command: ["sh", "-c", "echo hi"]
                environments: [{CO_DATA: "a=1 b=2"}]
                inputs: {a: 1, msg: "two words = ok", flag: yes, none: ~, ratio: 1.10}
                outputs: [CO_URL]
                resources: {cpu: 1, memory: 256M}
                timeout: 30s
                retries: 2
                allow_failure: false
                when: on_success
          - name: package
            jobs:
              - endpoint: containerops/base:busybox
                command: echo packaged
                environments: {CO_DATA: "x=1"}
                subscriptions:
                  - build.unit.test[CO_URL]: CO_URL
                when: always
      - {type: end, name: end}
    """
)


def problems(text: str) -> list[str]:
    """Every diagnostic of an invalid flow, as printed."""
    with pytest.raises(FlowInvalid) as raised:
        parse_flow(text, "flow.yml")
    return [str(d) for d in raised.value.diagnostics]


def errors(text: str) -> list[str]:
    return [p for p in problems(text) if ": error: " in p]


def flow_with_job(job: str, *, extra_jobs: str = "") -> str:
    """A one-stage flow whose job ``test`` (from line 7) has the keys in ``job`` from line 9, column 13."""
    body = textwrap.indent(textwrap.dedent(job).strip(), " " * 12)
    return (
        "uri: demo/hello/ci\n"
        "stages:\n"
        "  - name: build\n"
        "    actions:\n"
        "      - name: unit\n"
        "        jobs:\n"
        "          - name: test\n"
        "            endpoint: busybox\n" + body + "\n" + extra_jobs
    )


def test_the_full_format_builds_the_model() -> None:
    result = parse_flow(FULL, "flow.yml")
    assert result.warnings == []
    flow = result.flow
    assert (flow.uri, flow.title, flow.version, flow.tag, flow.timeout) == (
        "demo/hello/ci",
        "Hello",
        "1",
        "latest",
        600.0,
    )
    assert flow.environments == {"GREETING": "hi"}
    assert flow.labels == {"team": "infra", "tier": "2"}
    assert [(r.type, r.to) for r in flow.receivers] == [("email", ("someone@example.com",))]
    assert [(t.type, t.token) for t in flow.triggers] == [("webhook", "HOOK_TOKEN")]
    assert [(s.name, s.type) for s in flow.stages] == [
        ("start", "start"),
        ("build", "normal"),
        ("end", "end"),
    ]
    build = flow.stages[1]
    assert (build.title, build.sequencing, build.position) == ("Build", "sequence", Position(15, 5))
    assert [a.path for a in build.actions] == ["build.unit", "build.package"]
    test, packaged = flow.jobs()
    assert test.path == "build.unit.test"
    assert (test.title, test.type, test.endpoint) == ("Run them", "component", "containerops/base:busybox")
    assert test.command == ["sh", "-c", "echo hi"]
    assert test.environments == {"CO_DATA": "a=1 b=2"}
    assert test.inputs == {"a": "1", "msg": "two words = ok", "flag": "true", "none": "", "ratio": "1.10"}
    assert test.outputs == ["CO_URL"]
    assert test.resources == Resources(cpu=1.0, memory=256 * 1024**2)
    assert (test.timeout, test.retries, test.allow_failure, test.when) == (30.0, 2, False, "on_success")
    assert test.position == Position(23, 13)
    assert packaged.name == "job-1"
    assert packaged.path == "build.package.job-1"
    assert packaged.command == ["sh", "-c", "echo packaged"]
    assert packaged.environments == {"CO_DATA": "x=1"}
    assert packaged.subscriptions == [Subscription(source="build.unit.test", key="CO_URL", env="CO_URL")]
    assert packaged.when == "always"


def test_five_different_problems_are_all_reported_with_their_positions() -> None:
    text = (
        FULL.replace("uri: demo/hello/ci", "uri: demo/hello")
        .replace("sequencing: sequence", "sequencng: sequence")
        .replace("retries: 2", 'retries: "x"')
        .replace("memory: 256M", "memory: 12Q")
        .replace("build.unit.test[CO_URL]", "build.unit.tset[CO_URL]")
    )
    assert problems(text) == [
        "flow.yml:1:6: error: uri 'demo/hello' must be namespace/repository/name "
        "(three parts separated by '/')",
        "flow.yml:18:5: error: unknown key 'sequencng' in a stage; did you mean 'sequencing'?",
        "flow.yml:31:41: error: memory: invalid memory size '12Q': use bytes (268435456) or a number "
        "with a unit, like 512M, 4G, 1Gi or 100k",
        "flow.yml:33:22: error: retries must be an integer from 0 to 100, got 'x'",
        "flow.yml:42:17: error: subscription 'build.unit.tset[CO_URL]': there is no job 'build.unit.tset'; "
        "did you mean 'build.unit.test'?",
    ]


def test_diagnostics_say_where_in_the_document() -> None:
    with pytest.raises(FlowInvalid) as raised:
        parse_flow(FULL.replace("timeout: 30s", "timeout: soon"), "flow.yml")
    [diagnostic] = raised.value.diagnostics
    assert (diagnostic.line, diagnostic.column) == (32, 22)
    assert diagnostic.where == "stages[1].actions[0].jobs[0].timeout"
    assert diagnostic.message.startswith("timeout: invalid duration 'soon'")


# -- the flow -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("demo/hello", "uri 'demo/hello' must be namespace/repository/name (three parts separated by '/')"),
        ("a/b/c/d", "uri 'a/b/c/d' must be namespace/repository/name (three parts separated by '/')"),
        ("demo//ci", "uri 'demo//ci' has an empty part"),
        ("demo/a..b/ci", "uri 'demo/a..b/ci' must not contain '..'"),
        (
            "demo/hello world/ci",
            "uri 'demo/hello world/ci' has an invalid part 'hello world': use lowercase letters, digits, "
            "'-', '_' and '.', starting with a letter or a digit",
        ),
        ("demo/-x/ci", "uri 'demo/-x/ci' has an invalid part '-x'"),
    ],
)
def test_bad_uris(uri: str, message: str) -> None:
    [error] = errors(FULL.replace("uri: demo/hello/ci", f"uri: {uri}"))
    assert error.startswith(f"flow.yml:1:6: error: {message}")


def test_capitals_in_a_uri_are_a_warning_because_original_flows_have_them() -> None:
    result = parse_flow(FULL.replace("uri: demo/hello/ci", "uri: huawei/serviceComb/bmi"), "flow.yml")
    assert result.flow.uri == "huawei/serviceComb/bmi"
    assert [str(w) for w in result.warnings] == [
        "flow.yml:1:6: warning: uri part 'serviceComb' has capital letters; uris are lowercase "
        "(accepted for the original flows, kept as written)"
    ]


def test_missing_uri_and_stages() -> None:
    assert problems("title: nothing\n") == [
        "flow.yml:1:1: error: the flow has no 'uri': give it as namespace/repository/name",
        "flow.yml:1:1: error: the flow has no 'stages'",
    ]


def test_unknown_top_level_key_lists_the_known_ones_when_nothing_is_close() -> None:
    [error] = errors(FULL + "zzz: 1\n")
    assert error == (
        "flow.yml:45:1: error: unknown key 'zzz' in the flow (known keys: uri, title, version, tag, timeout, "
        "environments, labels, receivers, triggers, logs, max_job_log, active, defaults, parallelism, "
        "concurrency, stages)"
    )


def test_receivers_and_triggers_need_a_type() -> None:
    text = FULL.replace(
        "{type: mail, address: someone@example.com}", "{address: someone@example.com}"
    ).replace("- {type: webhook, token: HOOK_TOKEN}", "- push")
    assert errors(text) == [
        "flow.yml:10:5: error: a receiver needs a 'type' (slack, webhook, email, mail, github)",
        "flow.yml:12:5: error: a trigger must be a mapping, got 'push'",
    ]


def test_runtime_keys_of_the_original_engine_are_ignored_with_warnings() -> None:
    text = FULL.replace("title: Hello\n", "title: Hello\nnumber: 33\nnamespace: demo\n").replace(
        "when: always", "when: always\n            status: running"
    )
    messages = [str(w) for w in parse_flow(text, "flow.yml").warnings]
    assert messages == [
        "flow.yml:3:1: warning: 'number' is ignored: it belongs to a runtime record of the original engine, "
        "not to a flow",
        "flow.yml:4:1: warning: 'namespace' is ignored: it belongs to a runtime record of the original "
        "engine, not to a flow",
        "flow.yml:46:13: warning: 'status' is ignored: it belongs to a runtime record of the original "
        "engine, not to a flow",
    ]


def test_zero_timeouts_and_limits_mean_none() -> None:
    text = FULL.replace("timeout: 10m", "timeout: 0").replace("{cpu: 1, memory: 256M}", "{cpu: 0, memory: 0}")
    flow = parse_flow(text).flow
    assert flow.timeout is None
    assert flow.jobs()[0].resources == Resources(cpu=None, memory=None)


def test_version_and_tag_keep_their_spelling() -> None:
    flow = parse_flow(FULL.replace("version: 1", "version: 1.10").replace("tag: latest", "tag: 2.0")).flow
    assert (flow.version, flow.tag) == ("1.10", "2.0")


# -- stages and actions -------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "name: build",
            "name: 'bad name'",
            "flow.yml:16:11: error: stage name 'bad name' is not valid: "
            "use letters, digits, '-' and '_', starting with a letter or a digit",
        ),
        ("name: build\n", "\n", "flow.yml:15:5: error: a stage has no 'name'"),
        (
            "type: normal",
            "type: norml",
            "flow.yml:15:11: error: stage type must be 'start', 'normal', 'pause' "
            "or 'end', got 'norml'; did you mean 'normal'?",
        ),
        (
            "sequencing: sequence",
            "sequencing: paralel",
            "flow.yml:18:17: error: sequencing must be 'sequence' "
            "or 'parallel', got 'paralel'; did you mean 'parallel'?",
        ),
        (
            "{type: end, name: end}",
            "{type: end, name: build}",
            "flow.yml:44:5: error: duplicate stage name 'build' (first at line 15)",
        ),
        (
            "- name: unit\n",
            "- name: 'unit tests'\n",
            "flow.yml:20:15: error: action name 'unit tests' is not valid: "
            "use letters, digits, '-' and '_', starting with a letter or a digit",
        ),
        ("- name: package\n", "- title: package\n", "flow.yml:36:9: error: an action has no 'name'"),
    ],
)
def test_stage_and_action_mistakes(old: str, new: str, message: str) -> None:
    found = errors(FULL.replace(old, new, 1))
    assert found[0] == message
    # Renaming 'build' or 'unit' also orphans the subscription to build.unit.test: that is right.
    assert all("subscription 'build.unit.test[CO_URL]'" in other for other in found[1:])


def test_repeated_action_names_are_renamed_with_a_warning() -> None:
    text = FULL.replace("- name: package\n", "- name: unit\n")
    result = parse_flow(text, "flow.yml")
    assert [a.name for a in result.flow.stages[1].actions] == ["unit", "unit-2"]
    assert result.flow.jobs()[1].path == "build.unit-2.job-1"
    assert [str(w) for w in result.warnings] == [
        "flow.yml:36:9: warning: duplicate action name 'unit' in stage 'build' (first at line 20); this one "
        "is renamed 'unit-2' so that its jobs have paths of their own"
    ]


def test_renamed_action_avoids_names_already_taken() -> None:
    text = (
        "uri: demo/hello/ci\nstages:\n  - name: build\n    actions:\n"
        "      - {name: unit, jobs: [{endpoint: busybox}]}\n"
        "      - {name: unit, jobs: [{endpoint: busybox}]}\n"
        "      - {name: unit-2, jobs: [{endpoint: busybox}]}\n"
    )
    result = parse_flow(text)
    assert [a.name for a in result.flow.stages[0].actions] == ["unit", "unit-3", "unit-2"]
    assert [j.path for j in result.flow.jobs()] == [
        "build.unit.job-1",
        "build.unit-3.job-1",
        "build.unit-2.job-1",
    ]


def test_empty_action_items_are_ignored_but_a_stage_needs_actions() -> None:
    text = FULL.replace("        actions:\n", "        actions:\n          -\n")
    assert len(parse_flow(text).flow.stages[1].actions) == 2
    empty = "uri: demo/hello/ci\nstages:\n  - name: build\n    actions:\n      -\n"
    assert problems(empty) == ["flow.yml:3:5: error: stage 'build' has no actions"]


def test_an_action_needs_jobs() -> None:
    text = "uri: demo/hello/ci\nstages:\n  - name: build\n    actions:\n      - name: unit\n"
    assert problems(text) == ["flow.yml:5:9: error: action 'build.unit' has no jobs"]


def test_start_end_and_pause_stages() -> None:
    text = FULL.replace("{type: start, name: start}", "{type: end, name: finish}").replace(
        "{type: end, name: end}", "{type: pause, name: wait, actions: [{name: a, jobs: [{endpoint: x}]}]}"
    )
    assert errors(text) == [
        "flow.yml:14:5: error: end stage 'finish' must be the last stage",
        "flow.yml:44:31: error: a pause stage has no actions (it waits for an approval)",
    ]


def test_stage_timeout_only_counts_on_pause_stages() -> None:
    text = FULL.replace(
        "{type: end, name: end}",
        "{type: pause, name: approve, timeout: 1h}\n  - {name: x, "
        "timeout: 5m, actions: [{name: a, jobs: [{endpoint: busybox}]}]}",
    )
    result = parse_flow(text, "flow.yml")
    assert [s.timeout for s in result.flow.stages[-2:]] == [3600.0, 300.0]
    assert [str(w) for w in result.warnings] == [
        "flow.yml:45:15: warning: timeout is ignored on a normal stage: only pause stages wait"
    ]


# -- jobs ---------------------------------------------------------------------


def test_unnamed_jobs_are_numbered_by_position_and_cannot_clash_silently() -> None:
    text = flow_with_job(
        "title: first",
        extra_jobs="          - endpoint: busybox\n          - name: job-2\n            endpoint: busybox\n",
    )
    assert errors(text) == [
        "flow.yml:11:13: error: duplicate job name 'job-2' in action 'build.unit' (first at line 10); "
        "a job without a name is called 'job-N' after its position"
    ]
    ok = flow_with_job("title: first", extra_jobs="          - endpoint: busybox\n")
    assert [j.name for j in parse_flow(ok).flow.jobs()] == ["test", "job-2"]


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ("retries: 101", "flow.yml:9:22: error: retries must be an integer from 0 to 100, got '101'"),
        ("retries: true", "flow.yml:9:22: error: retries must be an integer from 0 to 100, got 'true'"),
        ("allow_failure: maybe", "flow.yml:9:28: error: allow_failure must be true or false, got 'maybe'"),
        (
            "when: sometimes",
            "flow.yml:9:19: error: when must be 'on_success', 'on_failure' or 'always', got 'sometimes'",
        ),
        (
            "when: on_failur",
            "flow.yml:9:19: error: when must be 'on_success', 'on_failure' or 'always', "
            "got 'on_failur'; did you mean 'on_failure'?",
        ),
        (
            "type: servce",
            "flow.yml:9:19: error: job type must be 'component' or 'service', got 'servce'; "
            "did you mean 'service'?",
        ),
        ("timeout: -5s", "flow.yml:9:22: error: timeout: invalid duration '-5s': it cannot be negative"),
        (
            "resources: {cpu: lots}",
            "flow.yml:9:30: error: cpu: invalid CPU count 'lots': use cores (2, 0.5) or millicores (500m)",
        ),
        (
            "resources: {cpus: 1}",
            "flow.yml:9:25: error: unknown key 'cpus' in resources; did you mean 'cpu'?",
        ),
        ("resources: 4G", "flow.yml:9:24: error: resources must be a mapping, got '4G'"),
        ("command: []", "flow.yml:9:22: error: command is an empty list"),
        ("command: [sh, {a: 1}]", "flow.yml:9:27: error: a command argument must be text, got a mapping"),
        (
            "outputs: [CO_URL, CO_URL]",
            "flow.yml:9:31: error: output 'CO_URL' is declared twice (first at line 9)",
        ),
        (
            "outputs: [9LIVES]",
            "flow.yml:9:23: error: output name '9LIVES' is not valid: use letters, digits, "
            "'_', '.' and '-', starting with a letter or '_'",
        ),
        ("inputs: {'bad key': 1}", "flow.yml:9:22: error: input name 'bad key' is not valid"),
        ("inputs: {a: [1, 2]}", "flow.yml:9:25: error: input 'a' must be a single value, got a list"),
        (
            "environments: {9X: y}",
            "flow.yml:9:28: error: environment variable name '9X' is not valid: use "
            "letters, digits and '_', not starting with a digit",
        ),
        (
            "environments: [{A: 1}, {A: 2}]",
            "flow.yml:9:37: error: environment variable 'A' is set twice (first at line 9)",
        ),
        (
            "environments: [A=1]",
            "flow.yml:9:28: error: each item of environments must be a mapping with one "
            "key (NAME: value), got 'A=1'",
        ),
        (
            "endpoint2: busybox",
            "flow.yml:9:13: error: unknown key 'endpoint2' in a job; did you mean 'endpoint'?",
        ),
        ("name: 'a.b'", "flow.yml:9:13: error: duplicate key 'name' in a job (first at line 7)"),
        ("service: busybox", "flow.yml:9:22: error: service must be a mapping, got 'busybox'"),
    ],
)
def test_job_mistakes(job: str, message: str) -> None:
    found = problems(flow_with_job(job))
    assert any(p.startswith(message) for p in found), found


def test_a_job_needs_an_endpoint_or_a_command() -> None:
    text = flow_with_job("title: x").replace("            endpoint: busybox\n", "")
    assert problems(text) == [
        "flow.yml:7:13: error: job 'build.unit.test' has no 'endpoint' (the image to run) and no 'command'"
    ]
    local = parse_flow(
        flow_with_job("command: [sh, -c, 'echo hi']").replace("            endpoint: busybox\n", "")
    )
    assert local.flow.jobs()[0].endpoint is None
    assert check_runnable_locally(local.flow, "flow.yml", "local") == []
    assert [str(d) for d in check_runnable_locally(local.flow, "flow.yml", "docker")] == [
        "flow.yml:7:13: error: job 'build.unit.test' has no endpoint image for the docker executor "
        "(add `endpoint:`, or run it with --executor local)"
    ]
    assert [str(d) for d in check_runnable_locally(local.flow, "flow.yml", "swarm")] == [
        "flow.yml:7:13: error: job 'build.unit.test' has no endpoint image for the swarm executor "
        "(add `endpoint:`, or run it with --executor local)"
    ]
    image_only = parse_flow(flow_with_job("title: x"))
    assert [d.message for d in check_runnable_locally(image_only.flow, "flow.yml", "local")] == [
        "job 'build.unit.test' has no command; the local executor runs a job's command "
        "(use the docker executor to run its image)"
    ]


def test_bad_job_name() -> None:
    text = flow_with_job("title: x").replace("name: test", "name: te.st")
    assert problems(text) == [
        "flow.yml:7:19: error: job name 'te.st' is not valid: use letters, digits, '-' and '_', starting "
        "with a letter or a digit"
    ]


def test_service_jobs_run_locally_unless_they_wait_for_a_callback() -> None:
    text = flow_with_job("type: service\nservice: {url: 'http://127.0.0.1:9/x'}").replace(
        "            endpoint: busybox\n", ""
    )
    result = parse_flow(text, "flow.yml")
    [job] = result.flow.jobs()
    assert (job.type, job.endpoint) == ("service", None)
    assert check_runnable_locally(result.flow, "flow.yml") == []
    waiting = parse_flow(text.replace("/x'}", "/x', callback: true}"), "flow.yml")
    assert [str(d) for d in check_runnable_locally(waiting.flow, "flow.yml")] == [
        "flow.yml:7:13: error: this service job waits for a callback (callback: true), which needs a server "
        "the service can reach (`coops server`, or `coops run --server URL`); `coops run` alone cannot run "
        "this flow"
    ]


def test_service_key_only_on_service_jobs() -> None:
    assert errors(flow_with_job("service: {url: 'http://x/'}")) == [
        "flow.yml:9:13: error: 'service' is only for jobs of type service"
    ]


def test_kubectl_is_a_warning_and_without_an_endpoint_the_job_cannot_run() -> None:
    result = parse_flow(flow_with_job("kubectl: deploy.yaml"), "flow.yml")
    assert [str(w) for w in result.warnings] == [
        "flow.yml:9:13: warning: kubectl is not supported; the job runs its endpoint image"
    ]
    assert check_runnable_locally(result.flow) == []
    bare = flow_with_job("kubectl: deploy.yaml").replace("            endpoint: busybox\n", "")
    result = parse_flow(bare, "flow.yml")
    assert [str(w) for w in result.warnings] == [
        "flow.yml:8:13: warning: kubectl is not supported, and this job has no endpoint image to run "
        "instead: the flow validates but this job cannot run"
    ]
    assert [str(d) for d in check_runnable_locally(result.flow, "flow.yml")] == [
        "flow.yml:7:13: error: job 'build.unit.test' has no endpoint image for the docker executor "
        "(add `endpoint:`, or run it with --executor local)"
    ]


def test_co_data_with_a_dash_is_read_as_co_data() -> None:
    result = parse_flow(flow_with_job("environments:\n  - CO-DATA: a=1"), "flow.yml")
    assert result.flow.jobs()[0].environments == {"CO_DATA": "a=1"}
    assert [str(w) for w in result.warnings] == [
        "flow.yml:10:17: warning: 'CO-DATA' is read as 'CO_DATA' ('-' is not allowed in a variable name)"
    ]
    both = flow_with_job("environments:\n  - CO-DATA: a=1\n  - CO_DATA: b=2")
    assert errors(both) == [
        "flow.yml:11:17: error: environment variable 'CO_DATA' is set twice (first at line 10)"
    ]


# -- subscriptions ------------------------------------------------------------

ORDERED = textwrap.dedent(
    """\
    uri: demo/hello/ci
    stages:
      - name: one
        sequencing: SEQUENCING
        actions:
          - name: a
            jobs:
              - {name: first, endpoint: busybox, outputs: [URL, CO_URI]}
              - {name: second, endpoint: busybox, outputs: [URL]}
          - name: b
            jobs:
              - name: reader
                endpoint: busybox
                outputs: [URL]
                subscriptions:
                  SOURCE: VALUE
      - name: two
        actions:
          - name: c
            jobs:
              - {name: last, endpoint: busybox, outputs: [URL]}
    """
)


def subscribe(source: str, sequencing: str = "sequence", env: str = "VALUE") -> str:
    return ORDERED.replace("SEQUENCING", sequencing).replace("SOURCE", source).replace("VALUE", env)


@pytest.mark.parametrize("source", ["one.a.first[URL]", "one.a.second[URL]", "one.a.first[CO_URI]"])
def test_subscriptions_to_earlier_jobs_are_accepted(source: str) -> None:
    [subscription] = parse_flow(subscribe(source)).flow.jobs()[2].subscriptions
    assert f"{subscription.source}[{subscription.key}]" == source
    assert subscription.env == "VALUE"


@pytest.mark.parametrize(
    ("source", "sequencing", "message"),
    [
        (
            "one.a.first[URL]",
            "parallel",
            "subscription 'one.a.first[URL]': job 'one.a.first' does not run "
            "before job 'one.b.reader' (it is in a parallel action of the same stage)",
        ),
        (
            "two.c.last[URL]",
            "sequence",
            "subscription 'two.c.last[URL]': job 'two.c.last' does not run "
            "before job 'one.b.reader' (it is in a later stage)",
        ),
        (
            "one.b.reader[URL]",
            "sequence",
            "subscription 'one.b.reader[URL]': job 'one.b.reader' does not run "
            "before job 'one.b.reader' (it is the same job)",
        ),
        (
            "one.a.frist[URL]",
            "sequence",
            "subscription 'one.a.frist[URL]': there is no job 'one.a.frist'; did you mean 'one.a.first'?",
        ),
        (
            "one.a.first[URI]",
            "sequence",
            "subscription 'one.a.first[URI]': job 'one.a.first' has no output "
            "'URI' (its outputs: URL, CO_URI); did you mean 'URL'?",
        ),
        ("one.a.first", "sequence", "subscription 'one.a.first' is not stage.action.job[KEY]"),
        ("one.first[URL]", "sequence", "subscription 'one.first[URL]' is not stage.action.job[KEY]"),
    ],
)
def test_subscription_mistakes(source: str, sequencing: str, message: str) -> None:
    assert errors(subscribe(source, sequencing)) == [f"flow.yml:16:15: error: {message}"]


def test_later_job_of_the_same_action_is_not_earlier() -> None:
    text = subscribe("one.a.first[URL]").replace(
        "- {name: first, endpoint: busybox, outputs: [URL, CO_URI]}",
        "- {name: first, endpoint: busybox, subscriptions: {'one.a.second[URL]': X}}",
    )
    assert errors(text) == [
        "flow.yml:8:62: error: subscription 'one.a.second[URL]': job 'one.a.second' does not run before "
        "job 'one.a.first' (it comes later in the same action)",
        "flow.yml:16:15: error: subscription 'one.a.first[URL]': job 'one.a.first' has no output 'URL' "
        "(it declares no outputs)",
    ]


def test_subscription_variable_names() -> None:
    assert errors(subscribe("one.a.first[URL]", env="1BAD")) == [
        "flow.yml:16:33: error: subscription variable '1BAD' is not valid: use letters, digits and '_', "
        "not starting with a digit"
    ]
    second = "\n" + " " * 14 + "one.a.second[URL]: VALUE"
    text = subscribe("one.a.first[URL]").replace(
        "one.a.first[URL]: VALUE", "one.a.first[URL]: VALUE" + second
    )
    assert errors(text) == [
        "flow.yml:17:34: error: variable 'VALUE' is set by two subscriptions (first at line 16)"
    ]


# -- running locally ----------------------------------------------------------


def test_pause_stage_runs_locally() -> None:
    text = FULL.replace("{type: end, name: end}", "{type: pause, name: approve}\n  - {type: end, name: end}")
    assert check_runnable_locally(parse_flow(text).flow, "flow.yml") == []


def test_plain_flow_runs_locally() -> None:
    assert check_runnable_locally(parse_flow(FULL).flow) == []


def test_optional_subscriptions_with_a_default() -> None:
    optional = '{env: VALUE, default: "0.0.0"}'
    [subscription] = parse_flow(subscribe("one.a.first[URL]", env=optional)).flow.jobs()[2].subscriptions
    assert (subscription.env, subscription.default) == ("VALUE", "0.0.0")
    [required] = parse_flow(subscribe("one.a.first[URL]")).flow.jobs()[2].subscriptions
    assert required.default is None
    # the source must still exist and run earlier
    assert errors(subscribe("two.c.last[URL]", env=optional)) == [
        "flow.yml:16:15: error: subscription 'two.c.last[URL]': job 'two.c.last' does not run "
        "before job 'one.b.reader' (it is in a later stage)"
    ]
    assert errors(subscribe("one.a.first[URL]", env="{env: VALUE, defualt: x}")) == [
        "flow.yml:16:33: error: subscription 'one.a.first[URL]' needs default "
        "(written {env: NAME, default: VALUE})",
        "flow.yml:16:46: error: unknown key 'defualt' in an optional subscription; did you mean 'default'?",
    ]
    assert errors(subscribe("one.a.first[URL]", env="{default: x}")) == [
        "flow.yml:16:33: error: subscription 'one.a.first[URL]' needs env "
        "(written {env: NAME, default: VALUE})"
    ]
    assert errors(subscribe("one.a.first[URL]", env="{env: 1BAD, default: x}")) == [
        "flow.yml:16:39: error: subscription variable '1BAD' is not valid: use letters, digits and '_', "
        "not starting with a digit"
    ]
    assert errors(subscribe("one.a.first[URL]", env="{env: VALUE, default: [x]}")) == [
        "flow.yml:16:55: error: subscription default must be a single value, got a list"
    ]


def test_env_references_name_a_variable_something_defines() -> None:
    text = textwrap.dedent(
        """\
        uri: demo/hello/ci
        environments: {TARGET: prod, ALIAS: "${{ env.TARGET }}"}
        stages:
          - name: s
            actions:
              - name: a
                jobs:
                  - name: j
                    endpoint: busybox
                    environments: {MINE: x}
                    inputs:
                      ref: "${{ env.CO_GIT_REF }}"
                      where: "${{ env.TARGET }}-${{ env.MINE }}"
                      typo: "${{ env.TARGTE }}"
                      odd: "${{ inputs.ref }}"
                  - name: k
                    endpoint: busybox
                    inputs: {other: "${{ env.MINE }}"}
        """
    )
    assert errors(text) == [
        "flow.yml:14:21: error: '${{ env.TARGTE }}': no variable TARGTE in the flow's or the job's "
        "environments, nor one a run is given; did you mean 'TARGET'?",
        "flow.yml:15:20: error: '${{ inputs.ref }}': an input cannot name another input",
        "flow.yml:18:29: error: '${{ env.MINE }}': no variable MINE in the flow's or the job's "
        "environments, nor one a run is given",
    ]
    # the job's own environments count for its inputs (not for another job's)
    assert errors(text.replace('"${{ env.TARGTE }}"', "x").replace("inputs.ref", "env.MINE")) == [
        "flow.yml:18:29: error: '${{ env.MINE }}': no variable MINE in the flow's or the job's "
        "environments, nor one a run is given",
    ]


def test_active_is_a_boolean_on_flow_stage_action_and_job_and_inherited_downwards() -> None:
    flow = parse_flow(
        flow_with_job(
            "active: true", extra_jobs="          - {name: other, endpoint: busybox, active: false}\n"
        )
        + "  - name: later\n    active: false\n"
        + "    actions: [{name: a, jobs: [{name: j, endpoint: busybox}]}]\n",
        "flow.yml",
    ).flow
    assert [(job.path, job.active) for job in flow.jobs()] == [
        ("build.unit.test", True),
        ("build.unit.other", False),
        ("later.a.j", False),  # its stage is inactive
    ]
    assert [stage.active for stage in flow.stages] == [True, False]
    assert errors(flow_with_job("active: 'no'")) == [
        "flow.yml:9:21: error: active must be true or false, got 'no'"
    ]


DEFAULTS_FLOW = textwrap.dedent(
    """\
    uri: demo/hello/ci
    environments: {REGION: eu}
    defaults:
      endpoint: containerops/base:busybox
      resources: {cpu: 1, memory: 256M}
      timeout: 10m
      retries: 1
      environments: {LOG: info, REGION_COPY: "${{ env.REGION }}"}
    stages:
      - name: build
        defaults: {timeout: 2m, environments: {LOG: debug}, resources: {memory: 1G}}
        actions:
          - name: unit
            jobs:
              - {name: plain, command: "true"}
              - name: own
                endpoint: alpine
                command: "true"
                resources: {memory: 0}
                timeout: 5s
                retries: 0
                environments: {LOG: trace, EXTRA: "1"}
              - {name: hook, type: service, service: {url: "https://example.com/"}}
      - name: ship
        actions: [{name: up, jobs: [{name: it, command: "true", inputs: {r: "${{ env.LOG }}"}}]}]
    """
)


def test_defaults_of_the_flow_and_the_stage_fill_what_a_job_does_not_write() -> None:
    jobs = {job.name: job for job in parse_flow(DEFAULTS_FLOW, "flow.yml").flow.jobs()}
    plain, own, hook, it = jobs["plain"], jobs["own"], jobs["hook"], jobs["it"]
    assert (plain.endpoint, plain.resources, plain.timeout, plain.retries) == (
        "containerops/base:busybox",
        Resources(cpu=1, memory=2**30),  # the stage's memory over the flow's, the flow's cpu
        120,
        1,
    )
    assert plain.environments == {"LOG": "debug", "REGION_COPY": "${{ env.REGION }}"}
    # the job's own values win, 0 (no limit) included; maps merge key by key
    assert (own.endpoint, own.resources, own.timeout, own.retries) == ("alpine", Resources(1, None), 5, 0)
    assert own.environments == {"LOG": "trace", "REGION_COPY": "${{ env.REGION }}", "EXTRA": "1"}
    assert hook.endpoint is None  # a service job runs no image
    assert (it.timeout, it.environments["LOG"], it.inputs) == (600, "info", {"r": "${{ env.LOG }}"})


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  retries: 1\n",
            "  retry: 1\n",
            "flow.yml:7:3: error: unknown key 'retry' in defaults; did you mean 'retries'?",
        ),
        ("  timeout: 10m\n", "  timeout: soon\n", "flow.yml:6:12: error: timeout: invalid duration 'soon'"),
        ('REGION_COPY: "${{ env.REGION }}"', 'X: "${{ env.NOPE }}"', "'${{ env.NOPE }}': no variable NOPE"),
    ],
)
def test_defaults_are_checked_like_the_job_keys_they_give(old: str, new: str, message: str) -> None:
    assert old in DEFAULTS_FLOW
    said = errors(DEFAULTS_FLOW.replace(old, new))
    assert any(message in line for line in said), said


def test_an_endpoint_default_gives_a_job_without_a_command_its_image() -> None:
    imageless = DEFAULTS_FLOW.replace('{name: plain, command: "true"}', "{name: plain}")
    assert parse_flow(imageless, "flow.yml").flow.jobs()[0].endpoint == "containerops/base:busybox"
    said = errors(imageless.replace("  endpoint: containerops/base:busybox\n", ""))
    assert said == [
        "flow.yml:14:13: error: job 'build.unit.plain' has no 'endpoint' (the image to run) and no 'command'"
    ]


def test_retries_take_a_number_or_a_backoff() -> None:
    plain = parse_flow(flow_with_job("retries: 2"), "flow.yml").flow.jobs()[0]
    assert (plain.retries, plain.backoff) == (2, None)
    job = parse_flow(
        flow_with_job(
            "retries: {limit: 4, backoff: 1s, factor: 2, max_backoff: 1m, on_exit_codes: [1, 137]}"
        ),
        "flow.yml",
    ).flow.jobs()[0]
    assert job.retries == 4 and job.backoff is not None
    assert [job.backoff.wait_before(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert (
        job.backoff.retries_exit(137)
        and not job.backoff.retries_exit(2)
        and not job.backoff.retries_exit(None)
    )


@pytest.mark.parametrize(
    ("retries", "message"),
    [
        ("{backoff: 1s}", "retries needs 'limit'"),
        ("{limit: 2, factor: 0.5}", "factor must be a number from 1 to 10, got 0.5"),
        ("{limit: 2, on_exit_codes: [300]}", "an exit code must be an integer from 0 to 255"),
        ("{limit: 2, backof: 1s}", "unknown key 'backof' in retries; did you mean 'backoff'?"),
        ("{limit: 101}", "limit must be an integer from 0 to 100"),
    ],
)
def test_retry_mistakes_are_said_where(retries: str, message: str) -> None:
    said = errors(flow_with_job(f"retries: {retries}"))
    assert any(message in line and line.startswith("flow.yml:9:") for line in said), said


def test_a_pause_waits_for_a_duration_or_a_decision_not_both() -> None:
    base = (
        "uri: a/b/c\nstages:\n  - {type: pause, name: wait, %s}\n"
        "  - {name: s, actions: [{name: a, jobs: [{name: j, endpoint: busybox}]}]}\n"
    )
    assert parse_flow(base % "duration: 30s", "flow.yml").flow.stages[0].duration == 30
    assert errors(base % "duration: 30s, timeout: 1h") == [
        "flow.yml:3:31: error: a pause stage waits for a decision (timeout: how long at most) or for a "
        "duration (then it goes on by itself), not both"
    ]
    assert any(
        "only a pause stage waits for a duration" in e
        for e in errors(base.replace("type: pause", "type: normal") % "duration: 1s")
    )


def test_a_jobs_labels_are_read_and_a_nameless_one_is_refused_where_it_is() -> None:
    flow = parse_flow(
        textwrap.dedent(
            """\
            uri: demo/hello/ci
            stages:
              - name: build
                actions:
                  - name: unit
                    jobs:
                      - name: test
                        endpoint: containerops/base:busybox
                        labels: {zone: b, gpu: 1}
            """
        )
    )
    assert flow.flow.jobs()[0].labels == {"zone": "b", "gpu": "1"}
    with pytest.raises(FlowInvalid) as caught:
        parse_flow(
            textwrap.dedent(
                """\
                uri: demo/hello/ci
                stages:
                  - name: build
                    actions:
                      - name: unit
                        jobs:
                          - name: test
                            endpoint: containerops/base:busybox
                            labels: {"": x}
                """
            ),
            "flow.yaml",
        )
    (error,) = caught.value.errors
    assert (error.line, error.message) == (9, "a label needs a name")


def test_a_jobs_labels_choose_its_worker_and_a_nameless_one_is_an_error() -> None:
    flow = parse_flow(flow_with_job("labels: {gpu: true, zone: a}")).flow
    assert flow.stages[0].actions[0].jobs[0].labels == {"gpu": "true", "zone": "a"}
    assert errors(flow_with_job('labels: {"": x}')) == ["flow.yml:9:22: error: a label needs a name"]
