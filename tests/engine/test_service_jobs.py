"""Service jobs against a real HTTP server on 127.0.0.1, with and without a callback."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from containerops.component.testserver import CaptureServer, Received
from containerops.engine import Engine, callbacks
from containerops.engine.callbacks import CallbackRefused
from containerops.executors.dummy import DummyExecutor
from containerops.model.loader import parse_flow
from containerops.store import Store
from containerops.store.callbacks import callback_answer
from tests.dbscan import assert_never_stored
from tests.engine.scenarios import Behaviour, action, flow_text, job, run_flow, simple_flow, stage


def service_flow(service: dict[str, Any], **keys: object) -> dict[str, object]:
    return simple_flow(
        [
            stage(
                "build", action("a", job("x", "dummy", Behaviour(outputs={"SHA": "abc123"}), outputs=["SHA"]))
            ),
            stage(
                "deploy",
                action(
                    "d",
                    {
                        "name": "call",
                        "type": "service",
                        "service": service,
                        "subscriptions": [{"build.a.x[SHA]": "SHA"}],
                        **keys,
                    },
                ),
            ),
        ]
    )


def test_a_templated_request_and_outputs_from_the_answer(store: Store) -> None:
    answer = {"data": {"items": [{"id": 42, "ok": True}], "name": "web"}}
    with CaptureServer(answer=lambda got: (201, answer)) as served:
        base, received = served.url, served.received
        doc = service_flow(
            {
                "url": base + "/deploy/${{ inputs.app }}",
                "method": "PUT",
                "headers": {"X-Sha": "${{ env.SHA }}"},
                "body": {"sha": "${{ env.SHA }}", "app": "${{ inputs.app }}", "n": 1},
                "expect": [200, 201],
                "outputs": {"ID": "$.data.items[0].id", "NAME": "data.name", "OK": "$.data.items.0.ok"},
            },
            inputs={"app": "shop"},
        )
        state = run_flow(store, "dummy", doc)
    assert state.status == "success", state.jobs["deploy.d.call"].reason
    [got] = received
    assert (got.method, got.path, got.headers["x-sha"]) == ("PUT", "/deploy/shop", "abc123")
    assert got.json() == {"sha": "abc123", "app": "shop", "n": 1}
    assert state.jobs["deploy.d.call"].outputs == {"ID": "42", "NAME": "web", "OK": "true"}
    lines = [row.line for row in store.log_lines(state.id, job_path="deploy.d.call")]
    assert lines[:2] == [f"PUT {base}/deploy/shop", "-> 201 Created"]


@pytest.mark.parametrize(
    ("status", "body", "service", "reason"),
    [
        (500, {"error": "down"}, {}, "answered 500, not 2xx"),
        (200, {}, {"expect": [201]}, "answered 200, not 201"),
        (
            200,
            "not json",
            {"outputs": {"ID": "$.id"}},
            "the answer is not JSON, so its outputs cannot be read",
        ),
        (200, {"x": 1}, {"outputs": {"ID": "$.id"}}, "output ID: the answer has nothing at $.id"),
    ],
)
def test_service_failures_say_why(
    store: Store, status: int, body: object, service: dict[str, Any], reason: str
) -> None:
    with CaptureServer(answer=lambda got: (status, body)) as served:
        base = served.url
        state = run_flow(store, "dummy", service_flow({"url": base + "/x", **service}))
    call = state.jobs["deploy.d.call"]
    assert call.status == "failure" and reason in (call.reason or ""), call.reason


def test_an_unreachable_service_fails_its_job(store: Store) -> None:
    with CaptureServer(answer=lambda got: (200, {})) as served:
        base = served.url
        pass  # closed: nothing listens there any more
    state = run_flow(store, "dummy", service_flow({"url": base + "/x"}, retries=1))
    call = state.jobs["deploy.d.call"]
    assert call.status == "failure" and call.attempts == 2
    assert call.reason is not None and call.reason.startswith(f"GET {base}/x: ")


def test_secrets_fill_service_templates_and_are_masked(store: Store) -> None:
    with CaptureServer(answer=lambda got: (200, {"echo": got.headers["authorization"]})) as served:
        base, received = served.url, served.received
        doc = service_flow(
            {
                "url": base + "/x",
                "headers": {"Authorization": "Bearer ${{ secrets.TOKEN }}"},
                "outputs": {"E": "echo"},
            }
        )
        loaded = parse_flow(flow_text(doc), "scenario.json")
        engine = Engine(store, DummyExecutor())
        engine.prepare(
            loaded.flow, source=loaded.source, fmt=loaded.format, secret_values={"TOKEN": "s3cr3t-value"}
        )
        state = asyncio.run(engine.run())
    assert received[0].headers["authorization"] == "Bearer s3cr3t-value"
    assert state.jobs["deploy.d.call"].outputs == {"E": "Bearer ***"}
    assert all("s3cr3t-value" not in row.line for row in store.log_lines(state.id))
    assert_never_stored("s3cr3t-value")


def run_with_callback(
    store: Store,
    service: dict[str, Any],
    on_request: Any,
    secret_values: dict[str, str] | None = None,
    **keys: object,
) -> tuple[Any, list[Received]]:
    """Run a callback service job; ``on_request(token)`` plays the third service (in a thread)."""

    def answer(got: Received) -> tuple[int, object]:
        token = got.headers["co-callback-url"].rsplit("/", 1)[1]
        threading.Thread(target=on_request, args=(got, token), daemon=True).start()
        return 202, {"queued": True}

    with CaptureServer(answer=answer) as served:
        base, received = served.url, served.received
        loaded = parse_flow(
            flow_text(service_flow({"url": base + "/build", "callback": True, **service}, **keys))
        )
        engine = Engine(store, DummyExecutor())
        engine.callback_base = "http://127.0.0.1:1"  # where the service would post; here it calls the store
        engine.prepare(loaded.flow, source=loaded.source, fmt=loaded.format, secret_values=secret_values)
        state = asyncio.run(engine.run())
    return state, received


def test_a_callback_brings_the_result_and_outputs(store: Store) -> None:
    seen: list[str] = []

    def service(got: Received, token: str) -> None:
        seen.append(token)
        callbacks.accept(store, token, True, {"IMAGE": "registry/app:abc123"}, "built\npushed")

    state, received = run_with_callback(store, {"body": {"sha": "${{ env.SHA }}"}}, service)
    call = state.jobs["deploy.d.call"]
    assert call.status == "success", call.reason
    assert call.outputs == {"IMAGE": "registry/app:abc123"}
    [got] = received
    url = got.headers["co-callback-url"]
    assert url == f"http://127.0.0.1:1/api/v1/callbacks/{seen[0]}" and len(seen[0]) >= 40
    assert got.json() == {"sha": "abc123", "CO_CALLBACK_URL": url}
    lines = [row.line for row in store.log_lines(state.id, job_path="deploy.d.call")]
    assert lines[-2:] == ["built", "pushed"]
    assert all(seen[0] not in line for line in lines)  # the token is masked in the log
    # single-use: the same URL again is refused
    with pytest.raises(CallbackRefused) as refused:
        callbacks.accept(store, seen[0], True, {}, "")
    assert refused.value.status == 409


def test_a_secret_a_callback_echoes_is_masked_before_it_is_stored(store: Store) -> None:
    secret = "callback-s3cr3t-value"

    def service(got: Received, token: str) -> None:
        echoed = got.headers["authorization"].removeprefix("Bearer ")
        callbacks.accept(store, token, True, {"ECHO": f"got {echoed}"}, f"authorised with {echoed}")

    state, _ = run_with_callback(
        store,
        {"headers": {"Authorization": "Bearer ${{ secrets.TOKEN }}"}},
        service,
        secret_values={"TOKEN": secret},
    )
    call = state.jobs["deploy.d.call"]
    assert call.status == "success", call.reason
    assert call.outputs == {"ECHO": "got ***"}
    lines = [row.line for row in store.log_lines(state.id, job_path="deploy.d.call")]
    assert lines[-1] == "authorised with ***"
    assert_never_stored(secret)  # the callbacks table included


def test_a_callback_no_engine_here_waits_for_is_refused_before_anything_is_kept(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An open callback whose engine is not in this process (a restarted server) cannot
    store an answer it could not mask."""
    state = run_flow(store, "dummy", simple_flow([stage("s", action("a", job("x", "dummy")))]))
    callback_id, token = callbacks.create(store, state.id, state.jobs["s.a.x"].id, 1, None, str.upper)
    monkeypatch.setattr(callbacks, "_masks", {})  # a new process: no engine waits here
    with pytest.raises(CallbackRefused) as refused:
        callbacks.accept(store, token, True, {"K": "v"}, "log")
    assert refused.value.status == 410
    assert callback_answer(store, callback_id) is None


def test_a_callback_reporting_failure_fails_the_job(store: Store) -> None:
    state, _ = run_with_callback(
        store, {}, lambda got, token: callbacks.accept(store, token, False, {}, "tests failed")
    )
    call = state.jobs["deploy.d.call"]
    assert call.status == "failure"
    assert call.reason == "the service reported failure in its callback (result: false)"


def test_no_callback_in_time_fails_the_job_and_a_late_one_is_refused(store: Store) -> None:
    tokens: list[str] = []
    state, _ = run_with_callback(store, {"timeout": "0.3s"}, lambda got, token: tokens.append(token))
    call = state.jobs["deploy.d.call"]
    assert call.status == "failure" and call.reason == "no callback within 0.3 s (service timeout)"
    with pytest.raises(CallbackRefused) as refused:
        callbacks.accept(store, tokens[0], True, {}, "")
    assert refused.value.status == 410


def test_a_forged_callback_is_refused(store: Store) -> None:
    with pytest.raises(CallbackRefused) as refused:
        callbacks.accept(store, "forged-token-that-was-never-given", True, {}, "")
    assert refused.value.status == 404


def test_without_a_public_url_a_callback_job_fails_plainly(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COOPS_SERVER_URL", raising=False)
    with CaptureServer(answer=lambda got: (200, {})) as served:
        base, received = served.url, served.received
        state = run_flow(store, "dummy", service_flow({"url": base + "/x", "callback": True}))
    assert received == []
    reason = state.jobs["deploy.d.call"].reason or ""
    assert reason.startswith("this service job waits for a callback, and this engine has no public URL")


def test_an_oversized_answer_or_output_fails_the_job(store: Store) -> None:
    huge = b"x" * (5 * 2**20)
    with CaptureServer(answer=lambda got: (200, huge)) as served:
        base = served.url
        state = run_flow(store, "dummy", service_flow({"url": base + "/x"}))
    assert state.jobs["deploy.d.call"].reason == "the answer is larger than 4 MiB"
    with CaptureServer(answer=lambda got: (200, {"v": "y" * 70_000})) as served:
        base = served.url
        state = run_flow(store, "dummy", service_flow({"url": base + "/x", "outputs": {"V": "v"}}))
    assert state.jobs["deploy.d.call"].reason == "output V: longer than 64 KiB"
