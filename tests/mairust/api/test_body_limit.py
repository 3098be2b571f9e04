"""The request-body cap: a 413 problem, whether the size is declared or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator


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
