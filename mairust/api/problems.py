"""Every error the API answers, as RFC 9457 ``application/problem+json``.

This module is the ONE place that turns failures into HTTP answers: domain errors
(:mod:`mairust.errors`), HTTP errors raised by routing (unknown route, wrong
method) or by dependencies (401), request validation errors, and anything
unexpected (a 500 without a traceback; the traceback goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mairust.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MairustError,
    NotFound,
    StorageUnavailable,
    Unauthenticated,
)

_log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Most store outages we see are short (a locked SQLite file, a database failover).
RETRY_AFTER_SECONDS = 5


class InvalidField(BaseModel):
    """One field of the request that failed validation."""

    location: str = Field(description="Where the field is: query, path, body or header.")
    field: str = Field(description="Dotted name of the field, e.g. `limit` or `add.0`.")
    pointer: str | None = Field(
        default=None, description="JSON Pointer into the request body (body fields only)."
    )
    detail: str = Field(description="What is wrong with the value.")


class Problem(BaseModel):
    """An RFC 9457 problem document: the shape of every error response."""

    type: str = Field(description="URI naming the kind of problem; `about:blank` if generic.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a human.")
    instance: str = Field(description="The request path this problem is about.")
    errors: list[InvalidField] | None = Field(
        default=None, description="The invalid fields (validation errors only)."
    )


@dataclass(frozen=True, slots=True)
class ProblemKind:
    """A kind of problem we answer: its type URI, title and status."""

    slug: str
    title: str
    status: int

    @property
    def type_uri(self) -> str:
        return f"urn:mairust:problem:{self.slug}"


NOT_FOUND = ProblemKind("not-found", "Not found", 404)
CONFLICT = ProblemKind("conflict", "Conflict", 409)
INVALID_INPUT = ProblemKind("invalid-input", "Invalid input", 422)
VALIDATION = ProblemKind("validation-error", "Request validation failed", 422)
UNAUTHORIZED = ProblemKind("unauthorized", "Authentication required", 401)
FORBIDDEN = ProblemKind("forbidden", "Not allowed", 403)
STORAGE_UNAVAILABLE = ProblemKind("storage-unavailable", "Storage unavailable", 503)
INTERNAL = ProblemKind("internal-error", "Internal server error", 500)
LOOP_STALLED = ProblemKind("loop-stalled", "Background loop stalled", 503)
TOO_MANY_REQUESTS = ProblemKind("too-many-requests", "Too many requests", 429)

# Domain error -> problem kind. Order matters only for subclasses (first match wins).
_DOMAIN_KINDS: tuple[tuple[type[MairustError], ProblemKind], ...] = (
    (NotFound, NOT_FOUND),
    (Unauthenticated, UNAUTHORIZED),
    (Forbidden, FORBIDDEN),
    (Conflict, CONFLICT),
    (InvalidInput, INVALID_INPUT),
    (StorageUnavailable, STORAGE_UNAVAILABLE),
)


class ProblemError(Exception):
    """Raised by API code for an answer that is not a domain error (401, 403)."""

    def __init__(
        self, kind: ProblemKind, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.headers = headers or {}


def problem_response(
    request: Request | None,
    *,
    status: int,
    title: str,
    detail: str,
    type_uri: str = "about:blank",
    headers: dict[str, str] | None = None,
    errors: Sequence[InvalidField] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """A problem+json response; ``instance`` defaults to the request path."""
    problem = Problem(
        type=type_uri,
        title=title,
        status=status,
        detail=detail,
        instance=instance if instance is not None else (request.url.path if request else ""),
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def kind_for(error: MairustError) -> ProblemKind:
    """The problem kind a domain error maps to; unknown subclasses are a 500."""
    for error_type, kind in _DOMAIN_KINDS:
        if isinstance(error, error_type):
            return kind
    return INTERNAL


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MairustError)
    kind = kind_for(exc)
    headers: dict[str, str] = {}
    detail = str(exc) or kind.title
    if kind is STORAGE_UNAVAILABLE:
        # The store's message may name hosts or paths: it goes to the log, not the client.
        _log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
        detail = "A store is temporarily unavailable; retry later."
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    elif kind is UNAUTHORIZED:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    elif kind is INTERNAL:
        _log.error("unmapped domain error on %s", request.url.path, exc_info=exc)
        detail = "The server failed to answer this request."
    return problem_response(
        request,
        status=kind.status,
        title=kind.title,
        detail=detail,
        type_uri=kind.type_uri,
        headers=headers,
    )


async def _problem_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        status=exc.kind.status,
        title=exc.kind.title,
        detail=exc.detail,
        type_uri=exc.kind.type_uri,
        headers=exc.headers,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = _phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else phrase
    if exc.status_code == 404 and detail == phrase:
        detail = f"No resource at {request.url.path}."
    return problem_response(
        request,
        status=exc.status_code,
        title=phrase,
        detail=detail,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [invalid_field(error) for error in exc.errors()]
    names = ", ".join(dict.fromkeys(f.field or f.location for f in fields))
    return problem_response(
        request,
        status=VALIDATION.status,
        title=VALIDATION.title,
        detail=f"Invalid request fields: {names}." if names else VALIDATION.title,
        type_uri=VALIDATION.type_uri,
        errors=fields,
    )


def invalid_field(error: Any) -> InvalidField:
    """One pydantic error (``{"loc": ..., "msg": ...}``) as a problem ``errors`` member."""
    loc = [str(part) for part in error.get("loc", ())]
    location = loc[0] if loc else "request"
    path = loc[1:]
    return InvalidField(
        location=location,
        field=".".join(path),
        pointer="#/" + "/".join(path) if location == "body" else None,
        detail=str(jsonable_encoder(error.get("msg", "invalid value"))),
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class UnexpectedErrorMiddleware:
    """Answers any exception nothing else handled with a 500 problem, traceback to the log.

    A pure ASGI middleware inside the user-middleware stack rather than an
    ``Exception`` handler: Starlette re-raises after such a handler, which would make
    the server (uvicorn, Ray Serve) log the same failure again and a test client raise.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            method, path = scope.get("method", "?"), scope.get("path", "?")
            _log.exception("unhandled error on %s %s", method, path)
            if started:  # too late for a problem document: let the server drop it
                raise
            response = problem_response(
                None,
                status=INTERNAL.status,
                title=INTERNAL.title,
                detail="The server failed to answer this request.",
                type_uri=INTERNAL.type_uri,
                instance=path,
            )
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error the app can meet to a problem+json answer."""
    app.add_exception_handler(MairustError, _domain_error)
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(UnexpectedErrorMiddleware)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem answers for ``statuses``."""
    return {status: {"model": Problem, "description": _phrase(status)} for status in statuses}


def use_problem_media_type(schema: dict[str, Any]) -> dict[str, Any]:
    """Document every 4xx/5xx answer as ``application/problem+json`` with the Problem schema.

    FastAPI documents extra responses as ``application/json`` and adds its own 422
    shape; both differ from what the handlers above actually send.
    """
    ref = {"$ref": "#/components/schemas/Problem"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": ref}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    if "Problem" not in components:
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components["Problem"] = problem
    return schema
