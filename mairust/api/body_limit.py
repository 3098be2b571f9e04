"""A cap on request body size, answered with a 413 problem like every other error.

The API takes small JSON documents only (messages arrive over SMTP), and neither
uvicorn nor Ray Serve caps bodies by default. FastAPI's own ``max_body_size``
answers 413 in plain text from outside the app's error handlers, so we cap here,
inside them: the error is raised while the route reads its body and reaches the
handlers in :mod:`mairust.api.problems`.

A body whose declared ``Content-Length`` is over the limit is refused before routing,
on every route (also those that never read a body), before authentication: no token is
looked up for it. A streamed body (no length declared) is counted as the route reads
it; a route that reads no body answers as it always does.

One route may need more than the rest: ``POST /api/v1/send`` carries whole messages
(attachments as base64), so ``path_limits`` gives single paths their own cap while every
other path keeps the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mairust.api.problems import problem_response


class BodyTooLarge(HTTPException):
    """The request body is over the limit (an HTTPException, so FastAPI lets it through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` (or the path's own cap in ``path_limits``): by
    Content-Length up front, else while streaming."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The exact path: a trailing slash or another spelling is another route (a 404).
        limit = self.path_limits.get(scope["path"], self.max_bytes)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            refusal = problem_response(
                None,
                status=413,
                title=HTTPStatus(413).phrase,
                detail=BodyTooLarge(limit).detail,
                instance=scope.get("path", ""),
            )
            await refusal(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def document_body_limit(
    schema: dict[str, Any], max_bytes: int, path_limits: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """State each operation's 413 answer with its own limit (a path's cap, else the default)."""
    limits = dict(path_limits or {})
    for path, operations in schema.get("paths", {}).items():
        limit = limits.get(path, max_bytes)
        for operation in operations.values():
            answer = operation.setdefault("responses", {}).setdefault("413", {})
            answer["description"] = f"Content Too Large (the limit is {limit} bytes)"
    return schema
