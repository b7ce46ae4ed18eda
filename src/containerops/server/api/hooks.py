"""Webhook routes: where GitHub, GitLab and other senders start flows.

``POST /hooks/{github|gitlab|webhook}/{namespace}/{repository}/{flow}`` and the
original ``POST /hook/v1/{namespace}/{repository}/{flow}/{tag}`` (which reads the
sender's kind from its headers: ``X-GitHub-Event``, ``X-Gitlab-Event``, else a
generic webhook). These routes take no API token: the sender proves itself with
the signature or token of one of the flow's triggers (``X-Hub-Signature-256``,
``X-Gitlab-Token``, ``X-ContainerOps-Token``). Answers: 202 accepted (with the
queued run), 200 ignored or duplicate (with the reason), 400 an unreadable
payload or a name with '..' in the route, 422 a name breaking the route's pattern,
413 a body over ``limits.MAX_HOOK_BODY``, and 401 for every request that has not
proved itself, with one text whatever the reason (no such flow or trigger, a wrong
signature), so that nothing about what exists leaks. Requests for a flow that
exists are recorded (``/api/v1/deliveries``); the body only once the sender has
proved itself.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from containerops.server.deps import FlowPart
from containerops.server.errors import ApiError, answer, error_responses
from containerops.server.names import flow_uri, uri_part
from containerops.server.triggers.receive import Hook, HookKind, HookReceiver

router = APIRouter(tags=["triggers"])

#: What a webhook is answered: accepted (202), ignored or duplicate (200), an unreadable
#: payload or a name with '..' (400, verdict refused), not proved (401), invalid names (422).
HOOK_ANSWERS: dict[int | str, dict[str, object]] = {
    200: answer("Ignored or a duplicate: the verdict and the reason."),
    202: answer("Accepted: the verdict and the queued run."),
    **error_responses(400, 401, 422),
}


def hook_receiver(request: Request) -> HookReceiver:
    """The app's receiver (made on first use: it keeps parsed flows between requests)."""
    state = request.app.state
    receiver: HookReceiver | None = getattr(state, "hooks", None)
    if receiver is None:
        receiver = HookReceiver(state.store, state.manager)
        state.hooks = receiver
    return receiver


async def _receive(request: Request, kind: HookKind, uri: str, tag: str | None = None) -> JSONResponse:
    hook = Hook(kind=kind, flow_uri=uri, headers=dict(request.headers), body=await request.body(), tag=tag)
    verdict = await hook_receiver(request).receive(hook)
    return JSONResponse(verdict.body(), status_code=verdict.status)


def _refuse(problem: ApiError) -> JSONResponse:
    """A request whose route names are invalid: 400, and nothing recorded (no flow has such a name)."""
    return JSONResponse({"error": problem.message, "verdict": "refused"}, problem.status)


@router.post(
    "/hooks/{kind}/{namespace}/{repository}/{flow}",
    summary="Receive a webhook for a flow",
    responses=HOOK_ANSWERS,
)
async def receive_hook(
    kind: Literal["github", "gitlab", "webhook"],
    namespace: FlowPart,
    repository: FlowPart,
    flow: FlowPart,
    request: Request,
) -> JSONResponse:
    try:
        uri = flow_uri(namespace, repository, flow)
    except ApiError as problem:
        return _refuse(problem)
    return await _receive(request, kind, uri)


@router.post(
    "/hook/v1/{namespace}/{repository}/{flow}/{tag}",
    summary="The original pilotage webhook",
    responses=HOOK_ANSWERS,
)
async def pilotage_hook(
    namespace: FlowPart, repository: FlowPart, flow: FlowPart, tag: FlowPart, request: Request
) -> JSONResponse:
    kind: HookKind = "webhook"
    if "x-github-event" in request.headers:
        kind = "github"
    elif "x-gitlab-event" in request.headers:
        kind = "gitlab"
    try:
        uri = flow_uri(namespace, repository, flow)
        uri_part(tag, "tag")
    except ApiError as problem:
        return _refuse(problem)
    return await _receive(request, kind, uri, tag)
