"""HTTP load on the API through the Serve ingress: the operations the benchmark measures
(each a request made afresh for every call, with an id or cursor picked from the seeded
mailbox) and the closed-loop run (N clients, each sending its next request when the last
one is answered, for a fixed time). The open-loop run is :func:`load.api_stats.run_paced`.

Loopback only: :func:`loopback_base_url` refuses any other host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from load.api_stats import OpResult, Send

PAGE = 50
GRAPHQL_LIST = (
    "query($mailbox: ID!, $after: ID) { messages(mailboxId: $mailbox, first: 50, after: $after)"
    " { items { id subject from to receivedAt size folder tags seen flagged threadId } next } }"
)


def loopback_base_url(host: str, port: int) -> str:
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"{host} is not a loopback address: the benchmark stays on this machine")
    return f"http://{host}:{port}"


@dataclass(frozen=True)
class Seeded:
    """What the requests pick from: the mailbox, its entry ids and the search words."""

    mailbox: str  # its address
    mailbox_id: str
    entry_ids: Sequence[str]  # oldest first
    words: Sequence[str]


def _check(response: httpx.Response, key: str) -> bool:
    """2xx and a JSON body that holds ``key`` (a 200 with an error inside is no answer)."""
    if response.status_code // 100 != 2:
        return False
    body: Any = response.json()
    if "errors" in body:  # GraphQL answers its errors with a 200
        return False
    return key in body or key in body.get("data", {})


class ApiOperations:
    """The requests of each measured operation, on one shared client."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        seeded: Seeded,
        hello_path: str,
        fastapi_hello_path: str | None = None,
    ) -> None:
        self.client = client
        self.seeded = seeded
        self.hello_path = hello_path
        self.fastapi_hello_path = fastapi_hello_path
        self._random = random.Random(8)

    def _entry(self) -> str:
        return self._random.choice(self.seeded.entry_ids)

    def _cursor(self) -> str:
        """An entry with at least a full page of 50 older ones (ids are oldest first), so
        every page asked for is full and an empty page is an error."""
        ids = self.seeded.entry_ids
        return self._random.choice(ids[min(PAGE, len(ids) - 1) :])

    async def hello(self) -> bool:
        response = await self.client.get(self.hello_path)
        return response.status_code == 200 and response.json() == {"hello": "world"}

    async def fastapi_hello(self) -> bool:
        assert self.fastapi_hello_path is not None
        response = await self.client.get(self.fastapi_hello_path)
        return response.status_code == 200 and response.json() == {"hello": "world"}

    async def healthz(self) -> bool:
        return (await self.client.get("/healthz")).status_code == 200

    async def list_messages(self) -> bool:
        # A page of 50 before a random entry: every page of the mailbox, not one cached page.
        params = {"mailbox": self.seeded.mailbox, "limit": str(PAGE), "before": self._cursor()}
        response = await self.client.get("/api/v1/messages", params=params)
        return _check(response, "items") and len(response.json()["items"]) > 0

    async def read_message(self) -> bool:
        response = await self.client.get(f"/api/v1/messages/{self._entry()}")
        return _check(response, "id")

    async def search(self) -> bool:
        params = {"mailbox": self.seeded.mailbox, "q": self._random.choice(self.seeded.words)}
        response = await self.client.get("/api/v1/search", params=params)
        return _check(response, "items") and len(response.json()["items"]) > 0

    async def graphql_list(self) -> bool:
        variables = {"mailbox": self.seeded.mailbox_id, "after": self._cursor()}
        response = await self.client.post(
            "/graphql", json={"query": GRAPHQL_LIST, "variables": variables}
        )
        return _check(response, "messages")

    def by_name(self) -> dict[str, Send]:
        hellos: dict[str, Send] = {"hello (bare Serve)": self.hello}
        if self.fastapi_hello_path is not None:
            hellos["hello (FastAPI on Serve)"] = self.fastapi_hello
        return hellos | {
            "healthz (MaiRust app, no auth)": self.healthz,
            "list messages (page of 50)": self.list_messages,
            "read message": self.read_message,
            "search": self.search,
            "GraphQL messages (50)": self.graphql_list,
        }


async def run_closed(
    result: OpResult,
    send: Send,
    clients: int,
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> OpResult:
    """``clients`` loops, each sending one request at a time until ``seconds`` have passed
    (requests in flight then are finished and counted: the run's wall time includes them)."""
    result.concurrency = clients
    started = clock()
    stop_at = started + seconds

    async def client() -> None:
        while clock() < stop_at:
            sent = clock()
            try:
                ok, problem = await send(), ""
            except Exception as exc:  # a refused connection or a timeout counts as an error
                ok, problem = False, repr(exc)
            result.record((clock() - sent) * 1000, ok, problem)

    await asyncio.gather(*(client() for _ in range(clients)))
    result.seconds = clock() - started
    return result


def http_client(base_url: str, token: str | None, connections: int) -> httpx.AsyncClient:
    """One keep-alive connection per client (what a busy API consumer does)."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"} if token else {},
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(30.0),
    )
