"""``POST /api/v1/callbacks/{token}``: where a third service reports on a service job.

A service job with ``callback: true`` hands the service a single-use URL
(``containerops.engine.callbacks``); the service posts
``{"result": true|false, "outputs": {...}, "log": "..."}`` there once. The
token in the URL is the credential (no API token): unknown tokens get 404, a
second post 409, a post after the job stopped waiting 410, all as JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from containerops.engine.callbacks import CallbackRefused, accept
from containerops.server.errors import ApiError, error_responses

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])

OutputName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=255)]
OutputValue = Annotated[str, StringConstraints(max_length=64 * 1024)]


class CallbackBody(BaseModel):
    """What the service reports: its verdict, outputs for the job, and lines for its log."""

    model_config = ConfigDict(extra="forbid")

    result: bool
    outputs: dict[OutputName, OutputValue] = Field(default_factory=dict, max_length=1000)
    log: str = Field(default="", max_length=1024 * 1024)


@router.post(
    "/{token}",
    summary="Report the result of a service job (single-use URL given to the service)",
    responses=error_responses(400, 404, 409, 410, 422),
)
def post_callback(
    request: Request,
    body: CallbackBody,
    token: Annotated[str, Path(max_length=200)],
) -> dict[str, Any]:
    try:
        run_id = accept(request.app.state.store, token, body.result, dict(body.outputs), body.log)
    except CallbackRefused as refused:
        raise ApiError(refused.message, status=refused.status) from None
    return {"accepted": True, "run": run_id}
