"""The request-body cap: a 413 problem, whether the size is declared or streamed, on
every route of the app, and documented in the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mairust.api.app import MAX_REQUEST_BODY, send_body_limit
from mairust.config import ApiSettings
from tests.mairust.api.test_app import EVERY_ROUTE


async def test_a_body_over_the_limit_is_a_413_problem(client, expect_problem):
    response = await client.post(
        "/api/v1/domains",
        content=b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    expect_problem(response, 413)


async def test_a_streamed_body_over_the_limit_is_a_413_problem(client, stores, expect_problem):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    response = await client.post(
        "/api/v1/domains", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    expect_problem(response, 413)
    assert stores.metadata.list_tenants() == []


# Every route refuses past 1 MiB, except send, which carries whole messages.
LIMITS = {"/api/v1/send": send_body_limit(ApiSettings().max_send_size)}


@pytest.mark.parametrize(("method", "path"), sorted(EVERY_ROUTE))
async def test_every_route_answers_413_to_a_declared_body_over_the_limit(
    anonymous, expect_problem, method, path
):
    # Refused before authentication and routing: no token is needed to be told.
    url = path.replace("{", "").replace("}", "")
    limit = LIMITS.get(path, MAX_REQUEST_BODY)
    response = await anonymous.request(
        method.upper(),
        url,
        content=b"x" * (limit + 1),
        headers={"Content-Type": "application/json"},
    )
    problem = expect_problem(response, 413)
    assert str(limit) in problem["detail"]
    assert problem["instance"] == url


async def test_a_body_at_the_limit_is_read(client, expect_problem):
    body = b'{"name": "' + b"a" * (MAX_REQUEST_BODY - 12) + b'"}'
    assert len(body) == MAX_REQUEST_BODY
    expect_problem(
        await client.post(
            "/api/v1/domains", content=body, headers={"Content-Type": "application/json"}
        ),
        422,
    )


async def test_openapi_documents_the_limit_on_every_operation(client):
    schema = (await client.get("/openapi.json")).json()
    assert "1 MiB" in schema["info"]["description"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answer = operation["responses"]["413"]
            limit = LIMITS.get(path, MAX_REQUEST_BODY)
            assert f"{limit} bytes" in answer["description"], f"{method} {path}"
            assert set(answer["content"]) == {"application/problem+json"}


async def _streamed(size: int) -> AsyncIterator[bytes]:
    chunk = b"a" * 65536
    for _ in range(size // len(chunk) + 1):
        yield chunk


async def test_the_send_route_has_its_own_larger_cap_also_when_streamed(client, expect_problem):
    # Over 1 MiB but under the send cap: the body reaches the route (it is not JSON: 422).
    response = await client.post(
        "/api/v1/send",
        content=_streamed(2 * MAX_REQUEST_BODY),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    over = await client.post(
        "/api/v1/send",
        content=_streamed(send_body_limit(ApiSettings().max_send_size)),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in over.request.headers
    expect_problem(over, 413)
