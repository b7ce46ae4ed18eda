"""The OpenAPI document says what the server really does.

schemathesis generates requests for every operation of a real server's document (valid
and invalid data; with an administrator's token, a reader's and none) and checks each answer
against it: no 5xx, only documented statuses and content types, bodies of the documented
shape. Bounded: a few examples per operation, mode and caller, the dummy executor (nothing a
request starts runs a container). Then what a fuzzer does not try: every path's 405
names exactly the methods its routes serve, names carry their patterns, the log stream
is ``text/event-stream``, times in queries are ISO 8601 text only.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.server.conftest import LiveServer
from tests.server.flows import flow_doc, start, wait_for_run
from tests.server.test_logs_api import sse

from containerops.model.names import ENV_NAME, NAME, URI_PART
from containerops.server.names import JOB_PATH
from containerops.store import Store
from containerops.store.accounts import create_token, create_user

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: Examples per operation and generation mode: ~40 operations x 2 modes x 3 callers stay under a minute.
EXAMPLES = 6
METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _fuzz(server: LiveServer, headers: dict[str, str]) -> list[str]:
    """Every operation in both modes; the failures found, as schemathesis words them."""
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, "the document lists fewer operations than the server has"
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Case) -> None:
                case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS, timeout=15)

            try:
                check()
            except Unsatisfiable:  # nothing to make invalid (no parameters, or free text only)
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as failure:  # one report per operation and mode, all listed at the end
                failures.append(f"{operation.label} ({mode.value}): {failure}"[:3000])
    return failures


def test_schemathesis_finds_nothing_the_document_does_not_say(
    server: LiveServer, store: Store, admin_token: str
) -> None:
    # A flow and a finished run in the namespace of a user whose token only reads: answers
    # other than 404 (and 403 for that user's writes) are checked too.
    create_user(store, "alice")
    reader = create_token(store, "alice", "read", name="reader")
    with server.client(admin_token) as admin:
        wait_for_run(admin, start(admin, flow_doc("alice/demo/ci", lines=3))["id"])
    callers = {"admin": admin_token, "a reader": reader, "anonymous": None}
    for who, token in callers.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        failures = _fuzz(server, headers)
        assert not failures, f"as {who}:\n" + "\n\n".join(failures)


def _document(admin: httpx.Client) -> dict[str, Any]:
    answer = admin.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def test_every_405_allows_exactly_the_methods_of_its_path(admin: httpx.Client) -> None:
    for path, operations in _document(admin)["paths"].items():
        url = path.replace("{kind}", "github").replace("{fmt}", "json")
        for name in ("run_id", "delivery_id", "version", "number"):
            url = url.replace(f"{{{name}}}", "1")
        url = url.replace("{", "x").replace("}", "x")  # other names: any valid one
        documented = {method.upper() for method in operations}
        for method in sorted(set(METHODS) - documented):
            answer = admin.request(method, url)
            assert answer.status_code == 405, (method, url, answer.status_code)
            assert set(answer.headers["allow"].split(", ")) == documented, (method, url)
            if method != "HEAD":
                assert answer.json() == {"error": "Method Not Allowed"}


def test_a_flow_with_two_routes_on_one_path_allows_both(admin: httpx.Client) -> None:
    answer = admin.put("/api/v1/flows/acme/shop/ci")
    assert answer.status_code == 405 and answer.headers["allow"] == "DELETE, GET"  # Starlette said GET


def test_every_route_documents_its_errors_as_json(admin: httpx.Client) -> None:
    document = _document(admin)
    error_statuses: set[str] = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "413" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith("2") and status != "204":
                    assert response["content"], (method, path, status)  # every 2xx says its media type
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    error_statuses.add(status)
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["required"] == ["error"], (method, path, status)
            # Webhooks, callbacks, signing in and health checks prove themselves otherwise than with a
            # token; the registry's token endpoint takes a coops token as the password of HTTP Basic.
            tokenless = (
                "/hooks/", "/hook/", "/api/v1/callbacks/", "/api/v1/session", "/healthz", "/readyz",
                "/registry/token",
            )  # fmt: skip
            if not path.startswith(tokenless):
                assert {"401", "403", "404", "422"} <= set(responses), (method, path)
    assert error_statuses == {"400", "401", "403", "404", "409", "410", "413", "422", "503"}


def test_names_carry_the_patterns_the_server_checks(admin: httpx.Client) -> None:
    document = _document(admin)

    def pattern(path: str, method: str, name: str) -> str:
        for parameter in document["paths"][path][method]["parameters"]:
            if parameter["name"] == name:  # an optional one is anyOf: the string, or null
                schemas = [parameter["schema"], *parameter["schema"].get("anyOf", [])]
                return next(str(schema["pattern"]) for schema in schemas if "pattern" in schema)
        raise AssertionError(f"{method} {path} has no parameter {name}")

    flow = "/api/v1/flows/{namespace}/{repository}/{name}"
    assert URI_PART.pattern in pattern(flow, "get", "namespace")
    assert URI_PART.pattern in pattern("/hook/v1/{namespace}/{repository}/{flow}/{tag}", "post", "tag")
    assert pattern("/api/v1/namespaces/{namespace}/members", "get", "namespace") == f"^(?:{NAME.pattern})$"
    assert NAME.pattern in pattern("/api/v1/components/{namespace}/{name}", "get", "name")
    secrets = "/api/v1/namespaces/{namespace}/secrets/{name}"
    assert pattern(secrets, "put", "name") == f"^(?:{ENV_NAME.pattern})$"
    # and in queries and bodies: a flow's URI is three parts, a job path its own rule
    assert pattern("/api/v1/runs", "get", "flow").count(URI_PART.pattern) == 3
    assert pattern("/api/v1/deliveries", "get", "flow").count(URI_PART.pattern) == 3
    assert JOB_PATH.pattern in pattern("/api/v1/runs/{run_id}/logs", "get", "job")
    bodies = document["components"]["schemas"]
    assert bodies["StartRun"]["properties"]["flow"]["pattern"].count(URI_PART.pattern) == 3
    assert bodies["NewNamespace"]["properties"]["name"]["pattern"] == f"^(?:{NAME.pattern})$"


def test_the_log_stream_is_documented_as_the_server_sent_events_it_sends(admin: httpx.Client) -> None:
    stream = _document(admin)["paths"]["/api/v1/runs/{run_id}/logs/stream"]["get"]["responses"]
    assert list(stream["200"]["content"]) == ["text/event-stream"]
    assert list(stream["404"]["content"]) == ["application/json"]
    documented = {
        kind["properties"]["event"]["const"]: kind
        for kind in stream["200"]["content"]["text/event-stream"]["itemSchema"]["oneOf"]
    }
    assert list(documented) == ["line", "lines", "waiting", "end"]
    run = start(admin, flow_doc("root/demo/ci", lines=3))["id"]
    wait_for_run(admin, run)
    with admin.stream("GET", f"/api/v1/runs/{run}/logs/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        sent = [(event, ident, data) for event, ident, data in sse(response)]
    assert [event for event, _, _ in sent] == ["line"] * 3 + ["end"]
    for event, ident, data in sent:
        kind = documented[event]
        fields = {"event": event, "data": data} | ({"id": ident} if ident is not None else {})
        assert set(kind["required"]) <= set(fields), event
        assert set(kind["properties"]["data"]["contentSchema"]["required"]) <= set(data), event
    # batch=page: ``lines`` events, each an array of lines as the documented line schema
    with admin.stream("GET", f"/api/v1/runs/{run}/logs/stream", params={"batch": "page"}) as response:
        paged = list(sse(response))
    assert [event for event, _, _ in paged] == ["lines", "end"]
    page_schema = documented["lines"]["properties"]["data"]["contentSchema"]
    lines = paged[0][2]
    assert page_schema["type"] == "array" and isinstance(lines, list) and len(lines) == 3
    assert paged[0][1] == str(lines[-1]["id"])
    for line in lines:
        assert set(page_schema["items"]["required"]) <= set(line)


@pytest.mark.parametrize("value", ["0.5", "1", "1e9", "-3", "nan"])
def test_a_time_in_a_query_is_iso_8601_not_a_number(admin: httpx.Client, value: str) -> None:
    for name in ("since", "until"):
        answer = admin.get("/api/v1/runs", params={name: value})
        assert answer.status_code == 422, (name, value, answer.text)
        assert f"query.{name}" in answer.json()["error"] and "ISO 8601" in answer.json()["error"]
    assert admin.get("/api/v1/runs", params={"until": "2026-12-03T12:00:00Z"}).status_code == 200
    assert admin.get("/api/v1/runs", params={"since": "2026-12-03T12:00:00"}).status_code == 200


def test_a_name_breaking_its_pattern_is_422_naming_it(admin: httpx.Client) -> None:
    answer = admin.get("/api/v1/flows/acme/sh$op/ci")
    assert answer.status_code == 422
    assert "path.repository" in answer.json()["error"] and "'sh$op'" in answer.json()["error"]
    dots = admin.get("/api/v1/flows/acme/sh..op/ci")  # the pattern lets '..' by: the route refuses it
    assert dots.status_code == 400 and "'sh..op' is not a valid name" in dots.json()["error"]
