"""load/api_load: the benchmark's requests, what counts as an answer, the closed loop, and
the loopback-only rule. The HTTP side is httpx's MockTransport (no server is measured)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from load.api_load import ApiOperations, Seeded, loopback_base_url, run_closed
from load.api_stats import OpResult

IDS = [f"e{n}" for n in range(60)]  # oldest first
SEEDED = Seeded("reader@bench.example", "mbx1", IDS, ["topic01"])


def test_only_loopback_hosts_are_accepted():
    assert loopback_base_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert loopback_base_url("localhost", 80) == "http://localhost:80"
    with pytest.raises(ValueError):
        loopback_base_url("192.0.2.1", 8000)


def operations(handler: object) -> ApiOperations:
    client = httpx.AsyncClient(
        base_url="http://127.0.0.1:1",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )
    return ApiOperations(client, SEEDED, "/bench-hello")


async def test_requests_name_the_seeded_mailbox_and_a_seeded_entry():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/graphql":
            return httpx.Response(200, json={"data": {"messages": {"items": [], "next": None}}})
        return httpx.Response(200, json={"items": [{"id": "e1"}], "id": "e1"})

    ops = operations(handler)
    assert await ops.list_messages() and await ops.read_message() and await ops.search()
    assert await ops.graphql_list()
    listing, read, search, graphql = seen
    assert listing.url.params["mailbox"] == SEEDED.mailbox
    # A page before (or after) one of the 10 newest: 50 older entries, a full page.
    assert listing.url.params["limit"] == "50" and listing.url.params["before"] in IDS[50:]
    assert read.url.path.removeprefix("/api/v1/messages/") in IDS
    assert search.url.params["q"] == "topic01"
    variables = json.loads(graphql.content)["variables"]
    assert variables["mailbox"] == "mbx1" and variables["after"] in IDS[50:]


async def test_an_error_status_an_empty_page_or_a_graphql_error_is_no_answer():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/graphql":
            return httpx.Response(200, json={"data": None, "errors": [{"message": "no"}]})
        if request.url.path == "/api/v1/search":
            return httpx.Response(200, json={"items": []})
        return httpx.Response(404, json={"title": "Not Found"})

    ops = operations(handler)
    assert not await ops.graphql_list()
    assert not await ops.search()
    assert not await ops.read_message()
    assert not await ops.hello()


async def test_the_fastapi_hello_is_measured_only_when_deployed_and_must_say_hello():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/bench-hello-fastapi/":
            return httpx.Response(200, json={"hello": "world"})
        return httpx.Response(307, headers={"location": "/bench-hello-fastapi/"})

    assert "hello (FastAPI on Serve)" not in operations(handler).by_name()
    client = httpx.AsyncClient(
        base_url="http://127.0.0.1:1",
        transport=httpx.MockTransport(handler),
    )
    both = ApiOperations(client, SEEDED, "/bench-hello", "/bench-hello-fastapi/")
    assert list(both.by_name())[:2] == ["hello (bare Serve)", "hello (FastAPI on Serve)"]
    assert await both.fastapi_hello()
    redirected = ApiOperations(client, SEEDED, "/bench-hello", "/bench-hello-fastapi")
    assert not await redirected.fastapi_hello()


async def test_the_closed_loop_keeps_each_client_to_one_request_at_a_time():
    in_flight = 0
    most = 0

    async def send() -> bool:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return True

    result = await run_closed(OpResult("x", "closed"), send, clients=4, seconds=0.1)
    assert most == 4 and result.concurrency == 4
    assert result.ok > 4 and result.errors == 0 and result.seconds >= 0.1


async def test_every_page_asked_for_is_full():
    cursors: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/graphql":
            cursors.append(json.loads(request.content)["variables"]["after"])
            return httpx.Response(200, json={"data": {"messages": {"items": [], "next": None}}})
        cursors.append(request.url.params["before"])
        return httpx.Response(200, json={"items": [{"id": "e1"}]})

    ops = operations(handler)
    for _ in range(50):
        await ops.list_messages()
        await ops.graphql_list()
    assert set(cursors) <= set(IDS[50:])  # never one of the 50 oldest: a short page
    assert len(set(cursors)) > 1  # and not one cached page either
