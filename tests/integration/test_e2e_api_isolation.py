"""Scenario: the BOLA matrix against a live `mairust up` on PostgreSQL + S3 + OpenSearch.

The same cases as the in-process matrix (tests/support/bola.py), through the real Serve
ingress: the world is built over the REST API, alice's message arrives over SMTP and is
delivered by the pipeline, and the search case asks OpenSearch. One server serves every
case; each case builds a world of its own (unique domains), so a write in one cannot make
another pass or fail.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.integration.conftest import production_config
from tests.support.bola import CASES, World, build_world, check_case
from tests.support.mairust_server import ADMIN_TOKEN, MairustServer, wait_for

# The webhook cases create endpoints on loopback (nothing is delivered to them).
EXTRA = '[webhooks]\nallow_networks = ["127.0.0.1/32"]\nallow_http = true\n'


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MairustServer]:
    base = tmp_path_factory.mktemp("isolation")
    with ExitStack() as cleanup:
        config = production_config(base, cleanup, EXTRA)
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


async def _world(server: MairustServer) -> World:
    async def deliver(address: str, raw: bytes) -> str:
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
            smtp.sendmail("sender@remote.example", [address], raw)
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        url = f"http://127.0.0.1:{server.api_port}/api/v1/messages"

        def entries() -> list[str]:
            answer = httpx.get(url, params={"mailbox": address}, headers=headers, timeout=30)
            return [item["id"] for item in answer.json()["items"]]

        wait_for(lambda: entries(), timeout=60, what=f"the message for {address}")
        return entries()[0]

    return await build_world(_clients(server), ADMIN_TOKEN, deliver)


@pytest.mark.parametrize(("method", "path"), sorted(CASES))
async def test_another_tenant_gets_404_or_nothing_on_the_live_platform(
    live: MairustServer, method: str, path: str
) -> None:
    world = await _world(live)
    if (method, path) == ("GET", "/api/v1/search"):
        # The index is written by the pipeline: wait until the owner finds the message.
        headers = {"Authorization": f"Bearer {world.tokens['alice']}"}
        url = f"http://127.0.0.1:{live.api_port}/api/v1/search"

        def indexed() -> bool:
            answer = httpx.get(url, params={"q": world.ids["subject"]}, headers=headers)
            return world.ids["entry"] in answer.text

        wait_for(indexed, timeout=60, what="the message in the search index")
    await check_case(world, method, path)
