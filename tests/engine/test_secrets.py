"""``${{ secrets.NAME }}``: substituted into what a job gets, masked in all it prints,
absent from the stored flow, and a run referencing an unknown secret never starts."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from containerops.engine import Engine, RunState
from containerops.engine.masking import MASK
from containerops.engine.secrets import MissingSecret
from containerops.engine.templating import Values
from containerops.executors import get_executor
from containerops.model.loader import parse_flow
from containerops.model.references import names, syntax_problems
from containerops.store import Store
from containerops.store.runs import attempts, state_changes
from tests.dbscan import assert_never_stored
from tests.engine.scenarios import BUSYBOX, action, flow_text, simple_flow, stage

SECRET = 'pa55 w\'rd-with "quotes" and spaces'
OTHER = "second-secret-value"

#: Prints each way a secret can reach a job, and the SHA-256 of what it got, so the
#: test can check the substitution without the value itself appearing anywhere.
LEAK = "; ".join(
    [
        'echo "env=$TOKEN"',
        'echo "input=$CO_PASSWORD"',
        'echo "data=$CO_DATA"',
        'echo "flow=$FLOW_LEVEL"',
        'echo "stderr=$TOKEN" >&2',
        'echo "[COUT] LEAKED = $TOKEN"',
        'printf %s "$TOKEN" | sha256sum',
        'printf %s "$FLOW_LEVEL" | sha256sum',
    ]
)


def secret_flow(executor: str) -> dict[str, object]:
    job: dict[str, object] = {
        "name": "leak",
        "command": ["sh", "-c", LEAK],
        "environments": {"TOKEN": "${{ secrets.API_TOKEN }}"},
        "inputs": {"password": "${{secrets.API_TOKEN}}", "plain": "x"},
    }
    if executor == "docker":
        job["endpoint"] = BUSYBOX
    return simple_flow(
        [stage("s", action("a", job))], environments={"FLOW_LEVEL": "pre-${{ secrets.OTHER }}-post"}
    )


def run_with_secrets(store: Store, executor: str, doc: dict[str, object], values: dict[str, str]) -> RunState:
    loaded = parse_flow(flow_text(doc), "secrets.json")
    engine = Engine(store, get_executor(executor, network_mode="host"))
    engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format, secret_values=values)
    return asyncio.run(engine.run())


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_nothing_in_clear(store: Store, state: RunState) -> None:
    assert state.status == "success", state.reason
    lines = [row.line for row in store.log_lines(state.id)]
    # the job got the real values ...
    assert any(line.startswith(sha(SECRET)) for line in lines), lines
    assert any(line.startswith(sha(f"pre-{OTHER}-post")) for line in lines), lines
    # ... and printed them only masked, whatever way it reached them
    assert f"env={MASK}" in lines and f"input={MASK}" in lines and f"stderr={MASK}" in lines
    assert f"flow=pre-{MASK}-post" in lines
    data = next(line for line in lines if line.startswith("data="))
    assert MASK in data and "plain=x" in data
    everything = "\n".join(lines) + repr(store.get_run(state.id).to_json()) + repr(attempts(store, state.id))
    for value in (SECRET, OTHER, "pa55"):
        assert value not in everything
    assert state.jobs["s.a.leak"].outputs == {"LEAKED": MASK}
    # the stored definition keeps the reference, never the value
    source = store.flow_source(state.id)
    assert "${{ secrets.API_TOKEN }}" in source and SECRET not in source and OTHER not in source
    assert_never_stored(SECRET, OTHER)


def test_secrets_are_substituted_and_masked_on_the_local_executor(store: Store) -> None:
    state = run_with_secrets(store, "local", secret_flow("local"), {"API_TOKEN": SECRET, "OTHER": OTHER})
    check_nothing_in_clear(store, state)


@pytest.mark.docker
def test_secrets_are_substituted_and_masked_on_docker(store: Store, docker_ready: None) -> None:
    state = run_with_secrets(store, "docker", secret_flow("docker"), {"API_TOKEN": SECRET, "OTHER": OTHER})
    check_nothing_in_clear(store, state)


def test_an_unknown_secret_refuses_the_run_before_it_starts(store: Store) -> None:
    loaded = parse_flow(flow_text(secret_flow("local")), "secrets.json")
    engine = Engine(store, get_executor("local"))
    with pytest.raises(MissingSecret) as refused:
        engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format, secret_values={"OTHER": OTHER})
    message = str(refused.value)
    assert "API_TOKEN" in message and "job s.a.leak" in message and "nothing was started" in message
    assert "OTHER" not in refused.value.missing
    assert store.list_runs() == []


def test_a_flow_level_reference_is_named_as_such(store: Store) -> None:
    loaded = parse_flow(flow_text(secret_flow("local")), "secrets.json")
    with pytest.raises(MissingSecret, match=r"OTHER \(used by the flow environment\)"):
        Engine(store, get_executor("local")).prepare(
            loaded.flow, source=loaded.source, fmt=loaded.format, secret_values={"API_TOKEN": SECRET}
        )


def test_reference_syntax() -> None:
    assert names("a ${{ secrets.ONE }} b ${{secrets.two_2}}") == ["ONE", "two_2"]
    filled = Values(env={}, secrets={"A": "1"}).render("x-${{ secrets.A }}-${{ secrets.B }}")
    assert filled == "x-1-${{ secrets.B }}"  # a secret not given stays (the run is refused before)
    assert syntax_problems("${{ secrets.OK }}") == []
    assert syntax_problems("plain $HOME and ${BRACES}") == []
    assert len(syntax_problems("${{ secret.X }}")) == 1
    assert len(syntax_problems("${{ secrets.1X }}")) == 1
    assert syntax_problems("${{ env.HOME }}") == []  # env references are defined too
    assert syntax_problems("${{ inputs.x }}") == []  # an input of the job (checked by the validator)
    assert len(syntax_problems("${{ input.x }}")) == 1
    assert "closing" in syntax_problems("${{ secrets.X ")[0]


def test_a_service_request_referencing_an_unknown_secret_refuses_the_run(store: Store) -> None:
    call = {
        "name": "notify",
        "type": "service",
        "service": {
            "url": "http://127.0.0.1:9/hook",
            "method": "POST",
            "headers": {"Authorization": "Bearer ${{ secrets.HOOK_TOKEN }}"},
            "body": {"text": "from ${{ secrets.SENDER }}"},
        },
    }
    loaded = parse_flow(flow_text(simple_flow([stage("s", action("a", call))])), "service.json")
    with pytest.raises(MissingSecret) as refused:
        Engine(store, get_executor("local")).prepare(
            loaded.flow, source=loaded.source, fmt=loaded.format, secret_values={}
        )
    assert refused.value.missing == {"HOOK_TOKEN": ["job s.a.notify"], "SENDER": ["job s.a.notify"]}
    assert store.list_runs() == []


@pytest.mark.parametrize(
    ("script", "where"),
    [
        ('pre: fail("token was " .. env.TOKEN)', "failed by its pre script: token was"),
        ('post: fail("token was " .. env.TOKEN)', "failed by its post script: token was"),
        ('pre: error("broke on " .. env.TOKEN)', "broke on"),
        ('post: succeed("fine, " .. env.TOKEN)\n  outputs.K = env.TOKEN', "(exit code 3): fine,"),
    ],
)
def test_a_reason_a_script_gives_is_masked_in_the_job_history_and_database(
    store: Store, script: str, where: str
) -> None:
    """A Lua reason (or error) quoting a secret is stored masked: the job, its attempts,
    the run and its history, and no byte of the database holds the value."""
    key, _, body = script.partition(": ")
    job = {
        "name": "leak",
        "command": ["sh", "-c", "exit 3"],
        "environments": {"TOKEN": "${{ secrets.API_TOKEN }}"},
        key: body,
    }
    doc = simple_flow([stage("s", action("a", job))])
    state = run_with_secrets(store, "local", doc, {"API_TOKEN": SECRET})

    run = store.get_run(state.id).to_json()
    texts = [repr(run), repr(attempts(store, state.id)), repr(state_changes(store, state.id))]
    assert any(where in text for text in texts), texts
    assert all(SECRET not in text for text in texts)
    assert MASK in texts[0]
    assert SECRET not in (state.jobs["s.a.leak"].reason or "") + (state.reason or "")  # what coops run shows
    assert_never_stored(SECRET)
