"""The request-body cap: a 413 problem, whether the size is declared or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from mairust.api.app import MAX_REQUEST_BODY, send_body_limit
from mairust.config import ApiSettings


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
