"""The one mapping of failures to RFC 9457 problem documents."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

from mairust.api.problems import (
    CONFLICT,
    INTERNAL,
    INVALID_INPUT,
    NOT_FOUND,
    PROBLEM_MEDIA_TYPE,
    STORAGE_UNAVAILABLE,
    UNAUTHORIZED,
    ProblemError,
    install_problem_handlers,
    invalid_field,
    kind_for,
    use_problem_media_type,
)
from mairust.errors import Conflict, InvalidInput, MairustError, NotFound, StorageUnavailable


class Body(BaseModel):
    name: str = Field(min_length=2)
    tags: list[str] = Field(max_length=1)


def failing_app() -> FastAPI:
    """An app whose routes each fail in one way, with only the problem handlers installed."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/not-found")
    async def not_found() -> None:
        raise NotFound("no such thing: 42")

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict("exists already: x")

    @app.get("/invalid")
    async def invalid() -> None:
        raise InvalidInput("bad value")

    @app.get("/unavailable")
    async def unavailable() -> None:
        raise StorageUnavailable("postgresql://db.internal:5432 refused")

    @app.get("/unmapped")
    async def unmapped() -> None:
        raise MairustError("a domain error nobody mapped")

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("secret /var/lib/internal state")

    @app.get("/unauthorized")
    async def unauthorized() -> None:
        raise ProblemError(UNAUTHORIZED, "who are you?", {"WWW-Authenticate": "Bearer"})

    @app.get("/query")
    async def query(limit: Annotated[int, Query(ge=1, le=5)]) -> int:
        return limit

    @app.post("/body")
    async def body(value: Body) -> str:
        return value.name

    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=failing_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize(
    ("path", "status", "kind_slug", "detail"),
    [
        ("/not-found", 404, "not-found", "no such thing: 42"),
        ("/conflict", 409, "conflict", "exists already: x"),
        ("/invalid", 422, "invalid-input", "bad value"),
    ],
)
async def test_domain_errors_keep_their_message(
    http, expect_problem, path, status, kind_slug, detail
):
    problem = expect_problem(await http.get(path), status)
    assert problem["type"] == f"urn:mairust:problem:{kind_slug}"
    assert problem["detail"] == detail
    assert problem["instance"] == path


async def test_storage_unavailable_is_503_with_retry_after_and_hides_the_backend(
    http, expect_problem
):
    response = await http.get("/unavailable")
    problem = expect_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    assert "db.internal" not in response.text
    assert problem["type"] == STORAGE_UNAVAILABLE.type_uri


async def test_unmapped_domain_error_is_a_500(http, expect_problem):
    response = await http.get("/unmapped")
    expect_problem(response, 500)
    assert "nobody mapped" not in response.text


async def test_unexpected_exception_is_a_500_without_traceback(http, expect_problem, caplog):
    with caplog.at_level(logging.ERROR, logger="mairust.api.problems"):
        response = await http.get("/crash")
    problem = expect_problem(response, 500)
    assert problem["type"] == INTERNAL.type_uri
    assert "secret" not in response.text
    assert "RuntimeError" not in response.text
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert logged, "the traceback must reach the server log"
    assert isinstance(logged[0].exc_info[1], RuntimeError)


async def test_problem_error_keeps_its_headers(http, expect_problem):
    response = await http.get("/unauthorized")
    problem = expect_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert problem["detail"] == "who are you?"


async def test_unknown_route_is_a_404_problem(http, expect_problem):
    problem = expect_problem(await http.get("/nowhere"), 404)
    assert problem["type"] == "about:blank"
    assert problem["title"] == "Not Found"
    assert problem["instance"] == "/nowhere"


async def test_wrong_method_is_a_405_problem_with_allow(http, expect_problem):
    response = await http.delete("/query")
    expect_problem(response, 405)
    assert "GET" in response.headers["Allow"]


async def test_query_validation_lists_the_invalid_field(http, expect_problem):
    problem = expect_problem(await http.get("/query", params={"limit": 9}), 422)
    assert problem["type"] == "urn:mairust:problem:validation-error"
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("query", "limit")]
    assert "pointer" not in problem["errors"][0]
    assert "limit" in problem["detail"]


async def test_body_validation_lists_every_invalid_field_with_pointers(http, expect_problem):
    response = await http.post("/body", json={"name": "x", "tags": ["a", "b"]})
    problem = expect_problem(response, 422)
    fields = {e["field"]: e for e in problem["errors"]}
    assert set(fields) == {"name", "tags"}
    assert fields["name"]["pointer"] == "#/name"
    assert all(e["location"] == "body" for e in problem["errors"])


async def test_malformed_json_is_a_422_problem(http, expect_problem):
    response = await http.post(
        "/body", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    expect_problem(response, 422)


def test_kind_for_maps_each_domain_error_and_subclasses():
    class MissingMailbox(NotFound):
        pass

    assert kind_for(NotFound("x")) is NOT_FOUND
    assert kind_for(MissingMailbox("x")) is NOT_FOUND
    assert kind_for(Conflict("x")) is CONFLICT
    assert kind_for(InvalidInput("x")) is INVALID_INPUT
    assert kind_for(StorageUnavailable("x")) is STORAGE_UNAVAILABLE
    assert kind_for(MairustError("x")) is INTERNAL


def test_invalid_field_of_a_nested_body_error():
    field = invalid_field({"loc": ("body", "add", 3), "msg": "too long", "type": "x"})
    assert (field.location, field.field, field.pointer, field.detail) == (
        "body",
        "add.3",
        "#/add/3",
        "too long",
    )


def test_openapi_documents_errors_as_problem_json():
    app = failing_app()
    schema = use_problem_media_type(app.openapi())
    responses = schema["paths"]["/query"]["get"]["responses"]
    assert set(responses["422"]["content"]) == {PROBLEM_MEDIA_TYPE}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "Problem" in schema["components"]["schemas"]
