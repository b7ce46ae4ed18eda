"""The web UI's files, served at ``/`` by the same server (and origin) as the API.

The UI is a single-page application built from ``ui/`` (``npm ci && npm run build``,
which ``scripts/setup.sh`` runs) into ``ui_dist/`` next to this module, package data
of the Python package: a machine that installs the package needs no Node to serve it.

:class:`UiFiles` answers ``GET``/``HEAD`` requests outside the API's own paths: a file
of the build when one has that path, else ``index.html``, so that a deep link such as
``/runs/12`` opens the application, which routes it. Everything else passes through to
the API untouched (an unknown ``/api/...`` path stays a JSON 404). Every answer of the
UI carries a Content-Security-Policy without inline script: the build has none, and a
name or log line that slipped into the page as HTML still could not run.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

#: Where ``npm run build`` in ``ui/`` writes the application (see ui/vite.config.ts).
UI_DIST = Path(__file__).parent / "ui_dist"

#: First path segments that belong to the API, its documents and the original routes.
API_SEGMENTS = frozenset(
    {
        "api",
        "flow",
        "hook",
        "hooks",
        "docs",
        "redoc",
        "openapi.json",
        "metrics",
        "healthz",
        "readyz",
        "registry",
    }
)

#: No inline script, no eval, nothing from elsewhere; styles from our files, plus style
#: attributes (the graph library positions its nodes with them), never a <style> element.
#: No framing (clickjacking).
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

#: Vite names the files under assets/ by their content's hash: they never change.
IMMUTABLE = "public, max-age=31536000, immutable"

NOT_BUILT = (
    "The ContainerOps web UI is not built in this installation.\n"
    "Build it with `bash scripts/setup.sh`, or `npm ci && npm run build` in ui/ (Node 20.19 or newer).\n"
    "The API is at /api/v1 (documented at /docs).\n"
)


def is_ui_path(path: str) -> bool:
    """Whether a request path is the UI's (not the API's, nor the original routes')."""
    first = path.lstrip("/").split("/", 1)[0]
    return first not in API_SEGMENTS


class UiFiles:
    """ASGI middleware serving the built UI around the API application."""

    def __init__(self, app: ASGIApp, root: Path = UI_DIST) -> None:
        self.app = app
        self.root = root
        self.files = StaticFiles(directory=root, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or not is_ui_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        response = self.response(scope["path"])
        response.headers.update(SECURITY_HEADERS)
        await response(scope, receive, send)

    def response(self, path: str) -> Response:
        index = self.root / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        relative = path.lstrip("/")
        if relative:
            # lookup_path keeps to the directory: '..' and links out of it find nothing.
            found, stat = self.files.lookup_path(relative)
            if stat is not None and Path(found).is_file():
                cache = IMMUTABLE if relative.startswith("assets/") else "no-cache"
                return FileResponse(found, stat_result=stat, headers={"Cache-Control": cache})
            if relative.startswith("assets/"):  # a script of another build: not the page instead
                return PlainTextResponse(f"no file /{relative} in this build of the UI\n", status_code=404)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
