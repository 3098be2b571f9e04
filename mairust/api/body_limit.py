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
"""

from __future__ import annotations

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
    """Refuses bodies over ``max_bytes``: by Content-Length up front, else while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            refusal = problem_response(
                None,
                status=413,
                title=HTTPStatus(413).phrase,
                detail=BodyTooLarge(self.max_bytes).detail,
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
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


def document_body_limit(schema: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """Add the 413 answer to every operation of an OpenAPI document."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault(
                "413", {"description": f"Content Too Large (the limit is {max_bytes} bytes)"}
            )
    return schema
