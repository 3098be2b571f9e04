"""Serve the admin UI's production build (``web/dist``) at ``/``, beside the API.

The UI is a single-page app: a path that names a file of the build is that file; any other
GET that is not the API's (``/api``, ``/graphql``, ``/healthz``, ``/metrics``, the OpenAPI
document and its pages) is ``index.html``, whose script routes it in the browser. The
route comes last and matches nothing of the API's, so an unknown API path is still the
API's own 404 problem and a POST anywhere is still the router's answer.

Files are looked up at each request, not at start-up: a build made while the server runs
is served at once, and a server started before any build answers ``/`` with a problem that
says how to build it. Hashed assets (``/assets/…``) are cached for good; ``index.html``
never is, so a new build reaches the browser at its next load.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

import mairust
from mairust.api.problems import NOT_FOUND, ProblemError

_log = logging.getLogger(__name__)

# The build beside the package in a source checkout (`make web` writes it).
DEFAULT_WEB_DIR = Path(mairust.__file__).resolve().parent.parent / "web" / "dist"
# Paths the UI never answers: the API's own, where a miss must stay the API's 404.
API_PREFIXES = ("/api", "/graphql", "/docs", "/redoc")
API_PATHS = frozenset({"/healthz", "/metrics", "/openapi.json"})
# The route's label in the request metrics (one label for every UI path).
ROUTE_LABEL = "/{web_ui}"
# The UI talks to its own origin only; message HTML is shown in a sandboxed iframe
# (srcdoc, which inherits this policy: no remote images, no scripts). Inline styles are
# allowed for the message bodies and the charts' computed sizes. Attachments are fetched
# (connect-src 'self', the token in a header) and saved through an `<a download>` to a
# blob: URL: a download is no fetch, frame or image, so no directive needs `blob:`.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_IMMUTABLE = "public, max-age=31536000, immutable"


def is_api_path(path: str) -> bool:
    """True for a path the API owns (the UI must never answer it)."""
    if path in API_PATHS:
        return True
    return any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES)


class WebUiRoute(BaseRoute):
    """GET and HEAD of every non-API path: a file of the build, else ``index.html``."""

    path = ROUTE_LABEL

    def __init__(self, web_dir: Path) -> None:
        self.web_dir = web_dir.resolve()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return Match.NONE, {}
        if is_api_path(scope["path"]):
            return Match.NONE, {}
        return Match.FULL, {"route": self}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.response_for(scope["path"])
        await response(scope, receive, send)

    def response_for(self, path: str) -> Response:
        """The file ``path`` names in the build, ``index.html`` for an app route, or a
        404 problem (a missing asset, a path out of the build, no build at all)."""
        index = self.web_dir / "index.html"
        if not index.is_file():
            raise ProblemError(
                NOT_FOUND,
                f"The admin UI is not built: no {index}. Run `make web` (or `make up`).",
            )
        found = self._file(path)
        if found is not None:
            cache = _IMMUTABLE if path.startswith("/assets/") else "no-cache"
            return FileResponse(found, headers={**_SECURITY_HEADERS, "Cache-Control": cache})
        if _looks_like_a_file(path):
            # A missing script or image is a 404, not the app's page in its place.
            raise ProblemError(NOT_FOUND, f"No file at {path}.")
        return FileResponse(index, headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"})

    def _file(self, path: str) -> Path | None:
        relative = path.lstrip("/")
        if not relative:
            return None
        candidate = (self.web_dir / relative).resolve()
        # `..` and symlinks out of the build are not served.
        if not candidate.is_relative_to(self.web_dir) or not candidate.is_file():
            return None
        return candidate


# What a build holds (Vite's output, public/ files): a miss of such a name is a 404. Any
# other path is the app's, dots and all (`/domains/example.com` is a page, not a file).
_FILE_SUFFIXES = frozenset(
    {
        "css", "gif", "html", "ico", "jpeg", "jpg", "js", "json", "map", "mjs", "png",
        "svg", "ttf", "txt", "wasm", "webmanifest", "webp", "woff", "woff2", "xml",
    }
)  # fmt: skip


def _looks_like_a_file(path: str) -> bool:
    if path.startswith("/assets/"):
        return True
    last = path.rsplit("/", 1)[-1]
    return "." in last and last.rsplit(".", 1)[-1].lower() in _FILE_SUFFIXES


def web_ui_route(web_dir: Path | None) -> WebUiRoute:
    """The UI's route over ``web_dir`` (None: the checkout's ``web/dist``)."""
    directory = web_dir if web_dir is not None else DEFAULT_WEB_DIR
    if not (directory / "index.html").is_file():
        _log.info("admin UI: no build in %s yet (make web); / answers 404 until then", directory)
    return WebUiRoute(directory)
