"""Two tenants with mail, tokens of every kind, and one way to send a GraphQL request.

Tenant A (a.example) has alice (three messages: a two-message thread and a third; one
seen, flagged and in Archive, one tagged and checked (SPF pass, DMARC fail)) and amos (one
message); tenant B (b.example) has bob (one message).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mairust.model.directory import Mailbox, Tenant
from mairust.model.ids import new_id
from mairust.model.mailbox import MailboxEntry, NewEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.parsing import parse_message
from mairust.model.principal import Permission, Role
from mairust.model.scope import TenantScope
from mairust.model.threads import thread_headers
from mairust.search.indexing import search_document
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import Connect, issue_token

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def mail(subject: str, to: str, msg_id: str, reply_to: str | None = None) -> bytes:
    reply = f"In-Reply-To: <{reply_to}>\r\nReferences: <{reply_to}>\r\n" if reply_to else ""
    return (
        "From: Carol <carol@partner.example>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        "Date: Sun, 01 Mar 2026 09:00:00 +0000\r\n"
        f"Message-ID: <{msg_id}>\r\n"
        f"{reply}"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"About {subject}.\r\n"
    ).encode()


# AuthResults.to_json() of a message whose SPF passed and DMARC failed.
AUTH_RESULTS: dict[str, Any] = {
    "spf": {"result": "pass", "identity": "mailfrom", "domain": "p.test", "client_ip": "1.2.3.4"},
    "helo": None,
    "dkim": [],
    "dmarc": {"result": "fail", "from_domain": "partner.example"},
    "arc": None,
}


def deliver(
    stores: Stores,
    mailbox: Mailbox,
    raw: bytes,
    when: datetime,
    auth_results: dict[str, Any] | None = None,
) -> MailboxEntry:
    """Spool commit, threaded entry and search document, as the pipeline would."""
    blob = stores.blobs.put(raw)
    ref = MessageRef(id=new_id(), size=blob.size, sha256=blob.sha256, blob_key=blob.key)
    envelope = Envelope(
        mail_from="carol@partner.example", rcpt_tos=(mailbox.address,), received_at=when
    )
    stores.metadata.commit_messages(
        [SpoolRecord(ref=ref, envelope=envelope, auth_results=auth_results)]
    )
    parsed = parse_message(raw)
    entry = stores.metadata.store_entry(
        NewEntry(
            tenant_id=mailbox.tenant_id,
            mailbox_id=mailbox.id,
            message_id=ref.id,
            subject=parsed.subject,
            from_addr=parsed.from_addr,
            to_addrs=parsed.to_addrs,
            date=parsed.date,
            size=len(raw),
            thread=thread_headers(parsed.headers),
        )
    )
    stores.search.index([search_document(entry, parsed)])
    return entry


@dataclass
class World:
    a: Tenant
    b: Tenant
    alice: Mailbox
    amos: Mailbox
    bob: Mailbox
    # alice's: the thread's first and its reply, and a third message
    first: MailboxEntry
    reply: MailboxEntry
    other: MailboxEntry
    amos_note: MailboxEntry
    bob_note: MailboxEntry
    tokens: dict[str, str]


@pytest.fixture
def world(app: FastAPI, stores: Stores) -> World:
    metadata = stores.metadata
    a, b = metadata.create_tenant("a"), metadata.create_tenant("b")
    metadata.add_domain("a.example", a.id)
    metadata.add_domain("b.example", b.id)
    alice = metadata.add_mailbox("alice@a.example")
    amos = metadata.add_mailbox("amos@a.example")
    bob = metadata.add_mailbox("bob@b.example")
    first = deliver(stores, alice, mail("plans", alice.address, "p1@partner.example"), T0)
    reply = deliver(
        stores,
        alice,
        mail("Re: plans", alice.address, "p2@partner.example", "p1@partner.example"),
        T0 + timedelta(minutes=1),
    )
    other = deliver(
        stores,
        alice,
        mail("invoice", alice.address, "i1@partner.example"),
        T0 + timedelta(days=2),
        AUTH_RESULTS,
    )
    scope = TenantScope(a.id)
    metadata.set_flags(scope, first.id, seen=True, flagged=True)
    metadata.set_tags(scope, other.id, add=["billing"], remove=[])
    metadata.move_entry(scope, first.id, "Archive")
    amos_note = deliver(stores, amos, mail("lunch", amos.address, "l1@partner.example"), T0)
    bob_note = deliver(stores, bob, mail("plans", bob.address, "b1@partner.example"), T0)
    rw = (Permission.READ, Permission.WRITE)
    tokens = {
        "a": issue_token(app, Role.TENANT_ADMIN, a.id, permissions=rw),
        "b": issue_token(app, Role.TENANT_ADMIN, b.id, permissions=rw),
        "alice": issue_token(app, Role.USER, a.id, alice.id, permissions=rw),
        "amos": issue_token(app, Role.USER, a.id, amos.id, permissions=rw),
        "a_read": issue_token(app, Role.TENANT_ADMIN, a.id, permissions=(Permission.READ,)),
    }
    return World(
        a, b, alice, amos, bob, metadata.get_entry(scope, first.id),
        metadata.get_entry(scope, reply.id), metadata.get_entry(scope, other.id),
        amos_note, bob_note, tokens,
    )  # fmt: skip


@dataclass
class Answer:
    status: int
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]

    @property
    def codes(self) -> list[str]:
        return [error.get("extensions", {}).get("code") for error in self.errors]


class GraphQL:
    """Posts operations to /graphql with a chosen token."""

    def __init__(self, http: httpx.AsyncClient, world: World) -> None:
        self.http = http
        self.world = world

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str = "a"
    ) -> Answer:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.world.tokens[token]}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return Answer(response.status_code, body.get("data"), body.get("errors") or [])


@pytest.fixture
async def graphql(connect: Connect, world: World) -> AsyncIterator[GraphQL]:
    async with connect() as http:
        yield GraphQL(http, world)
