"""Scenario: the BOLA matrix against a live `mairust up` on PostgreSQL + S3 + OpenSearch.

The same cases as the in-process matrix (tests/support/bola.py), through the real Serve
ingress: the world is built over the REST API, alice's message arrives over SMTP and is
delivered by the pipeline, and the search case asks OpenSearch. One server serves every
case; each case gets a world of its own (unique domains), so a write in one cannot make
another pass or fail. The worlds are built side by side before the first case runs (most of
a world's making is waiting for the server).
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from typing import TypeVar

import httpx
import pytest

from tests.integration.conftest import production_config
from tests.support.bola import CASES, World, build_world, check_case
from tests.support.mairust_server import ADMIN_TOKEN, MairustServer, free_port, wait_for

# Worlds built at once (see _worlds).
WORLDS_AT_ONCE = 8
T = TypeVar("T")

# The webhook cases create endpoints on loopback (nothing is delivered to them). The worlds
# are built side by side with the operator's one token: its request rate limit (a token
# bucket, tested in tests/mairust/api) would answer 429 to some, and is not what this
# scenario checks, so it is off.
SETTINGS = (
    '[webhooks]\nallow_networks = ["127.0.0.1/32"]\nallow_http = true\n'
    "[api]\nrate_limit_per_second = 0\n"
)


def quiet_dns() -> str:
    """Lookups go to a loopback port where nothing answers: the world's message to a
    remote domain stays a waiting (deferred) outbound row, whenever its case runs, instead
    of bouncing on the machine's resolver's NXDOMAIN."""
    return f'[dns]\nnameservers = ["127.0.0.1"]\nport = {free_port()}\ntimeout = 0.5\n'


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MairustServer]:
    base = tmp_path_factory.mktemp("isolation")
    with ExitStack() as cleanup:
        config = production_config(base, cleanup, SETTINGS + quiet_dns())
        server = MairustServer(data_dir=base / "data", config=config)
        try:
            server.start()
            yield server
            server.stop()
        finally:
            if server.proc is not None and server.proc.poll() is None:
                server.kill9()


def _clients(server: MairustServer) -> Callable[[str], httpx.AsyncClient]:
    def client(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.api_port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    return client


async def _until(predicate: Callable[[], Awaitable[T | None]], what: str) -> T:
    """``predicate()``'s first true answer, asked 300 times, 0.2 s apart."""
    for _ in range(300):
        if value := await predicate():
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _world(server: MairustServer) -> World:
    async def deliver(address: str, raw: bytes) -> str:
        def send() -> None:
            with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
                smtp.sendmail("sender@remote.example", [address], raw)

        await asyncio.to_thread(send)
        async with _clients(server)(ADMIN_TOKEN) as http:

            async def newest() -> str | None:
                answer = await http.get("/api/v1/messages", params={"mailbox": address})
                items = answer.json()["items"]
                return str(items[0]["id"]) if items else None

            return await _until(newest, f"the message for {address}")

    return await build_world(_clients(server), ADMIN_TOKEN, deliver)


async def _worlds(server: MairustServer, cases: list[tuple[str, str]]) -> list[World]:
    # Building a world is mostly waiting (REST round trips, the pipeline delivering alice's
    # two messages): build several at once, a few at a time so that the operator's
    # listings build_world reads (tokens, audit records; pages of 500) still hold each
    # world's own rows.
    gate = asyncio.Semaphore(WORLDS_AT_ONCE)

    async def one() -> World:
        async with gate:
            return await _world(server)

    return await asyncio.gather(*(one() for _ in cases))


@pytest.fixture(scope="module")
def worlds(live: MairustServer) -> dict[tuple[str, str], World]:
    """A world of its own for every case (unique domains, tenants and tokens, as when each
    case built its own before it ran), all built before the first case runs."""
    cases = sorted(CASES)
    return dict(zip(cases, asyncio.run(_worlds(live, cases)), strict=True))


@pytest.mark.parametrize(("method", "path"), sorted(CASES))
async def test_another_tenant_gets_404_or_nothing_on_the_live_platform(
    live: MairustServer, worlds: dict[tuple[str, str], World], method: str, path: str
) -> None:
    world = worlds[(method, path)]
    if (method, path) == ("GET", "/api/v1/search"):
        # The index is written by the pipeline: wait until the owner finds the message.
        headers = {"Authorization": f"Bearer {world.tokens['alice']}"}
        url = f"http://127.0.0.1:{live.api_port}/api/v1/search"

        def indexed() -> bool:
            answer = httpx.get(url, params={"q": world.ids["subject"]}, headers=headers)
            return world.ids["entry"] in answer.text

        wait_for(indexed, timeout=60, what="the message in the search index")
    await check_case(world, method, path)
