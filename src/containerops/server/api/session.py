"""``/api/v1/session``: the web UI signs in with a token and gets a session cookie.

The token is sent once, in the body (never in a URL); the answer sets the cookie
``coops_session`` (HttpOnly: no script reads it; SameSite=Strict: no other site's page
sends it; Secure over HTTPS) and says who signed in, as ``whoami`` does. ``DELETE``
signs the session out. Scripts do not need this: they send ``Authorization: Bearer``.
Both writes want the ``X-Coops-UI`` header, as every write made with the cookie does
(``server/auth.py``), so that another site's page cannot sign a browser in or out.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from containerops.server.auth import SESSION_COOKIE, check_same_origin, request_store
from containerops.server.errors import ApiError, error_responses
from containerops.store.accounts import Identity, TokenRefused
from containerops.store.sessions import LIFETIME, end_session, open_session, session_identity

router = APIRouter(prefix="/api/v1/session", tags=["accounts"])


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(description="An API token (coops_<key>_<secret>).", min_length=1, max_length=200)


def _cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _who(identity: Identity) -> dict[str, Any]:
    """Who a session acts for, as ``whoami`` says it."""
    return {
        "user": identity.user,
        "admin": identity.admin,
        "scope": identity.scope,
        "token": identity.token_key,
        "namespaces": identity.roles,
    }


@router.get("", summary="The session of the cookie sent: who it acts for, or user null")
def current_session(request: Request) -> dict[str, Any]:
    """The web UI asks this first: no cookie, or one whose session has ended, is not an
    error here (``{"user": null}``), only the state before signing in."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        try:
            return _who(session_identity(request_store(request), secret))
        except TokenRefused:
            pass
    return {"user": None}


@router.post(
    "",
    summary="Sign in: exchange a token for a session cookie (the web UI)",
    responses=error_responses(400, 401, 403, 422),
)
def sign_in(body: SignIn, request: Request) -> JSONResponse:
    """Answers who signed in (as ``whoami``) and sets the HttpOnly session cookie."""
    check_same_origin(request)
    try:
        secret, identity = open_session(request_store(request), body.token.strip())
    except TokenRefused as refused:
        raise ApiError(f"token refused: {refused}", status=401) from None
    response = JSONResponse(_who(identity))
    _cookie(response, request, secret, int(LIFETIME.total_seconds()))
    return response


@router.delete(
    "",
    status_code=204,
    summary="Sign out: end the session of the cookie sent",
    responses=error_responses(403),
)
def sign_out(request: Request) -> Response:
    """Ends the session (if the cookie names one) and clears the cookie; 204 either way."""
    check_same_origin(request)
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        end_session(request_store(request), secret)
    response = Response(status_code=204)
    _cookie(response, request, "", 0)
    return response
