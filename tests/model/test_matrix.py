"""``matrix:`` and ``strategy:`` as the validator reads them, and the pure parts of fanning
out: combinations, instance paths, ``${{ matrix.KEY }}``, aggregates."""

from __future__ import annotations

import re
import textwrap

import pytest

from containerops.model.diagnostics import FlowInvalid
from containerops.model.flow import Job
from containerops.model.loader import parse_flow
from containerops.model.matrix import Matrix, aggregate, from_output, instances
from containerops.model.paths import group_of, instance_suffix


def job_flow(job: str, *, before: str = "") -> str:
    """A flow with ``job`` (YAML, a job's keys) as ``test.run.it``, after ``before`` jobs."""
    return textwrap.dedent(
        """\
        uri: test/model/matrix
        stages:
          - name: test
            actions:
              - name: run
                jobs:
        """
    ) + textwrap.indent(
        textwrap.dedent(before)
        + "- name: it\n  endpoint: busybox:1\n"
        + textwrap.indent(textwrap.dedent(job), "  "),
        " " * 10,
    )


def problems(text: str) -> list[str]:
    with pytest.raises(FlowInvalid) as caught:
        parse_flow(text, "m.yaml")
    return [f"{d.line}:{d.column}: {d.message}" for d in caught.value.diagnostics if d.severity == "error"]


def test_the_product_minus_exclude_plus_include_in_order() -> None:
    matrix = Matrix(
        axes=(("os", ("linux", "mac")), ("py", ("3.11", "3.12"))),
        include=((("os", "bsd"), ("py", "3.12")), (("os", "linux"), ("py", "3.11"))),
        exclude=((("os", "mac"), ("py", "3.11")),),
    )
    assert matrix.combinations() == [
        {"os": "linux", "py": "3.11"},
        {"os": "linux", "py": "3.12"},
        {"os": "mac", "py": "3.12"},
        {"os": "bsd", "py": "3.12"},  # the second include is already there: not twice
    ]


def test_a_matrix_as_written_reaches_the_model() -> None:
    flow = parse_flow(
        job_flow(
            """\
            matrix:
              shard: {count: 3}
              engine: [tikv, 2, true]
            strategy: {max_parallel: 2, fail_fast: true, max_instances: 50}
            environments: {E: "${{ matrix.engine }}-${{ matrix.index }}/${{ matrix.count }}"}
            """
        ),
        "m.yaml",
    ).flow
    matrix = flow.jobs()[0].matrix
    assert matrix is not None
    assert matrix.axes == (("shard", ("0", "1", "2")), ("engine", ("tikv", "2", "true")))
    assert (matrix.max_parallel, matrix.fail_fast, matrix.max_instances) == (2, True, 50)
    made = instances(flow.jobs()[0], matrix.combinations())
    assert len(made) == 9 and made[4].path == "test.run.it[shard=1,engine=2]"
    assert made[4].environments["E"] == "2-4/9"


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ("matrix: {shard: {count: 20001}}\n", "the matrix makes 20,001 instances, more than 10,000"),
        ("matrix: {a: {count: 200}, b: {count: 200}}\nstrategy: {max_instances: 50000}\n", ""),
        ("matrix: {index: [1]}\n", "matrix key 'index' is reserved"),
        ("matrix: {Shard: [1]}\n", "matrix key 'Shard' is not valid"),
        ("matrix: {a: []}\n", "matrix key 'a' has no values"),
        ("matrix: {a: [1, 1]}\n", "value '1' is given twice"),
        ("matrix: {a: [[1]]}\n", "must be a single value"),
        ("matrix: {a: [1], include: [{b: 2}]}\n", "an include entry must give every key: a missing"),
        ("matrix: {a: [1], exclude: [{b: 2}]}\n", "exclude names no key of the matrix: b"),
        ("matrix: {}\n", "a matrix needs at least one key with values"),
        ("matrix: {a: [1], from: 'x.y.z[K]'}\n", "a matrix 'from:' an earlier job's list stands alone"),
        ("matrix: {from: 'nothing'}\n", "matrix from 'nothing' is not stage.action.job[KEY]"),
        (
            "matrix: {from: 'test.run.gone[K]'}\n",
            "matrix from 'test.run.gone[K]': there is no job 'test.run.gone'",
        ),
        (
            "matrix: {a: [1]}\nstrategy: {max_paralel: 2}\n",
            "unknown key 'max_paralel' in a strategy; did you mean 'max_parallel'?",
        ),
        (
            "matrix: {a: [1]}\nstrategy: {max_parallel: 0}\n",
            "max_parallel must be an integer from 1 to 1000000",
        ),
        ("strategy: {fail_fast: true}\n", "'strategy' is only for a job with a matrix"),
        ("command: [echo, '${{ matrix.a }}']\n", "'${{ matrix.a }}' is used, but job 'it' has no matrix"),
        (
            "matrix: {shard: [1]}\ncommand: [echo, '${{ matrix.shrad }}']\n",
            "has no key shrad; did you mean 'shard'?",
        ),
        ("matrix: {a: [1]}\nenvironments: {X: '${{ matrix.a }'}\n", "without its closing"),
    ],
)
def test_a_matrix_that_cannot_run_is_refused_before_anything_runs(job: str, expected: str) -> None:
    text = job_flow(job)
    if not expected:
        parse_flow(text, "m.yaml")  # 40,000 allowed by max_instances
        return
    found = problems(text)
    assert any(expected in problem for problem in found), found


def test_errors_point_at_the_line_that_is_wrong() -> None:
    found = problems(job_flow("matrix: {shard: [1]}\ncommand:\n  - echo\n  - '${{ matrix.shrad }}'\n"))
    assert found == [
        "12:17: '${{ matrix.shrad }}': the matrix of job 'it' has no key shrad; did you mean 'shard'?"
    ]


def test_a_from_matrix_must_name_an_earlier_declared_output() -> None:
    before = "- name: plan\n  endpoint: busybox:1\n  outputs: [CO_LIST]\n"
    parse_flow(job_flow("matrix: {from: 'test.run.plan[CO_LIST]'}\n", before=before), "m.yaml")
    found = problems(job_flow("matrix: {from: 'test.run.plan[CO_LISTS]'}\n", before=before))
    assert any(
        "job 'test.run.plan' has no output 'CO_LISTS' (its outputs: CO_LIST); did you mean" in p
        for p in found
    )


@pytest.mark.parametrize(
    ("subscription", "expected"),
    [
        (
            "test.run.it[CO_N|summ]",
            "'|summ' is not an aggregate (use |count, |sum, |all, |any, |min, |max); did you mean 'sum'?",
        ),
        (
            "test.run.plain[CO_N|sum]",
            "'|sum' sums up the instances of a matrix job, and 'test.run.plain' has no matrix",
        ),
    ],
)
def test_aggregates_are_checked(subscription: str, expected: str) -> None:
    text = textwrap.dedent(
        f"""\
        uri: test/model/matrix
        stages:
          - name: test
            actions:
              - name: run
                jobs:
                  - {{name: it, endpoint: "busybox:1", matrix: {{a: [1, 2]}}, outputs: [CO_N]}}
                  - {{name: plain, endpoint: "busybox:1", outputs: [CO_N]}}
                  - name: report
                    endpoint: busybox:1
                    subscriptions: {{"{subscription}": X}}
        """
    )
    assert any(expected in problem for problem in problems(text))


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("count", ["1", None, "3"], "2"),
        ("sum", ["1", "2", "3.5"], "6.5"),
        ("sum", ["1", "-2"], "-1"),
        ("min", ["5", "3", "9"], "3"),
        ("max", [], ""),
        ("all", ["true", "1", "yes"], "true"),
        ("all", ["true", "0"], "false"),
        ("any", ["false", "no", "off", ""], "false"),
        ("any", ["false", "ok"], "true"),
    ],
)
def test_aggregates(name: str, values: list[str | None], expected: str) -> None:
    import json

    assert aggregate(name, json.dumps(values)) == expected


def test_sum_of_something_else_than_numbers_says_which_value() -> None:
    with pytest.raises(ValueError, match=re.escape("|sum needs numbers, and 'abc' is not one")):
        aggregate("sum", '["1", "abc"]')


def test_instance_paths_keep_their_shape_whatever_the_values() -> None:
    assert instance_suffix({"shard": "3", "v": "1.10", "ref": "feature/x"}).startswith(
        "[shard=3,v=1.10,ref=~"
    )
    unsafe = instance_suffix({"ref": "../a]b,c=d"})
    assert unsafe.count("[") == 1 and unsafe.count("]") == 1 and "," not in unsafe and "/" not in unsafe
    assert instance_suffix({"a": "x y"}) != instance_suffix({"a": "x  y"})  # digests differ
    assert group_of("s.a.j[a=1]") == "s.a.j" and group_of("s.a.j") is None


def test_from_output_reads_scalars_and_flat_objects() -> None:
    assert from_output('["a", 2, true]', "src") == [{"item": "a"}, {"item": "2"}, {"item": "true"}]
    assert from_output('[{"shard": 1, "db": "x"}]', "src") == [{"shard": "1", "db": "x"}]
    with pytest.raises(ValueError, match="item 0 has a key that is not valid"):
        from_output('[{"index": 1}]', "src")


def test_a_service_url_gets_matrix_values_percent_encoded() -> None:
    flow = parse_flow(
        job_flow(
            """\
            type: service
            matrix: {ref: ["x?admin=1", "../up"]}
            service:
              url: "http://127.0.0.1:1/b/${{ matrix.ref }}?q=${{ matrix.ref }}"
              body: {ref: "${{ matrix.ref }}"}
            """
        ).replace("\n            endpoint: busybox:1", "", 1),
        "m.yaml",
    ).flow
    job: Job = flow.jobs()[0]
    assert job.matrix is not None
    made = instances(job, job.matrix.combinations())
    assert made[0].service is not None and made[1].service is not None
    assert made[0].service.url == "http://127.0.0.1:1/b/x%3Fadmin%3D1?q=x%3Fadmin%3D1"
    assert made[1].service.url == "http://127.0.0.1:1/b/..%2Fup?q=..%2Fup"
    assert made[0].service.body == {"ref": "x?admin=1"}  # a body is data, not a URL


def test_an_instance_path_the_store_cannot_keep_is_refused() -> None:
    keys = ", ".join(f"{key}: [{key * 40}]" for key in "abcdef")
    found = problems(job_flow(f"matrix: {{{keys}}}\n"))
    assert any("an instance's path would be 270 characters, more than 255" in p for p in found), found
    parse_flow(job_flow(f"matrix: {{{keys.rsplit(', ', 1)[0]}}}\n"), "m.yaml")  # five keys fit
