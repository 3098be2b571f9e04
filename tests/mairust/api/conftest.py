"""Fixtures for the API tests: real embedded stores on tmp_path, filled through the store API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mairust.api import create_app
from mairust.config import Settings
from mairust.model.directory import Mailbox, Tenant
from mairust.model.ids import new_id
from mairust.model.mailbox import MailboxEntry, NewEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.parsing import parse_message
from mairust.model.principal import Permission, Principal, Role
from mairust.model.threads import thread_headers
from mairust.search.indexing import search_document
from mairust.services.application import Application
from mairust.services.tokens import TokenRequest
from mairust.storage.factory import migrate, open_stores
from mairust.storage.opensearch_search import parse_opensearch_url
from mairust.storage.stores import Stores
from tests.support.opensearch_indexes import admin_client, fresh_index_url

ADMIN_TOKEN = "t"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def make_message(
    subject: str = "Hello",
    body: str = "Just a short note.",
    sender: str = "alice@remote.example",
    to: str = "jane@example.com",
) -> bytes:
    """A small RFC 5322 message with CRLF line endings."""
    return (
        f"From: Alice <{sender}>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        "Date: Mon, 03 Mar 2025 10:00:00 +0000\r\n"
        f"Message-ID: <{new_id()}@remote.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}\r\n"
    ).encode()


@dataclass
class MailSeeder:
    """Puts tenants, mailboxes and delivered messages into the stores, as the pipeline would."""

    stores: Stores

    message = staticmethod(make_message)

    def tenant(self, domain: str) -> Tenant:
        tenant = self.stores.metadata.create_tenant(domain)
        self.stores.metadata.add_domain(domain, tenant.id)
        return tenant

    def mailbox(self, address: str) -> Mailbox:
        return self.stores.metadata.add_mailbox(address)

    def deliver(
        self,
        mailbox: Mailbox,
        raw: bytes,
        *,
        folder: str = "INBOX",
        tags: tuple[str, ...] = (),
        received_at: datetime | None = None,
    ) -> MailboxEntry:
        """Spool commit, mailbox entry and search document for one message to ``mailbox``."""
        blob = self.stores.blobs.put(raw)
        ref = MessageRef(id=new_id(), size=blob.size, sha256=blob.sha256, blob_key=blob.key)
        when = received_at or datetime.now(UTC)
        envelope = Envelope(
            mail_from="alice@remote.example", rcpt_tos=(mailbox.address,), received_at=when
        )
        self.stores.metadata.commit_messages([SpoolRecord(ref=ref, envelope=envelope)])
        parsed = parse_message(raw)
        entry = self.stores.metadata.store_entry(
            NewEntry(
                tenant_id=mailbox.tenant_id,
                mailbox_id=mailbox.id,
                message_id=ref.id,
                subject=parsed.subject,
                from_addr=parsed.from_addr,
                to_addrs=parsed.to_addrs,
                date=parsed.date,
                size=len(raw),
                folder=folder,
                tags=tags,
                thread=thread_headers(parsed.headers),
            )
        )
        self.stores.search.index([search_document(entry, parsed)])
        return entry

    def deliver_many(
        self, mailbox: Mailbox, count: int, subject: str = "Note"
    ) -> list[MailboxEntry]:
        """``count`` messages received one second apart, oldest first."""
        start = datetime.now(UTC) - timedelta(hours=1)
        return [
            self.deliver(
                mailbox,
                make_message(subject=f"{subject} {n}", to=mailbox.address),
                received_at=start + timedelta(seconds=n),
            )
            for n in range(count)
        ]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, api={"admin_token": ADMIN_TOKEN})


@pytest.fixture
def stores(settings: Settings) -> Iterator[Stores]:
    migrate(settings.storage)
    opened = open_stores(settings.storage)
    yield opened
    opened.close()


@pytest.fixture
def seeder(stores: Stores) -> MailSeeder:
    return MailSeeder(stores)


# Keys the API token digests of the app under test (any 32 bytes will do).
TOKEN_KEYS = (b"mairust-test-token-digest-key-32",)


@pytest.fixture
def app(settings: Settings, stores: Stores) -> FastAPI:
    return create_app(settings, stores, TOKEN_KEYS)


def issue_token(
    app: FastAPI,
    role: Role,
    tenant_id: str | None = None,
    mailbox_id: str | None = None,
    permissions: Iterable[Permission] = (Permission.READ, Permission.WRITE),
) -> str:
    """A real API token issued by the app's token service (as the platform admin would)."""
    application: Application = app.state.application
    request = TokenRequest(
        name="test",
        permissions=frozenset(permissions),
        role=role,
        tenant_id=tenant_id,
        mailbox_id=mailbox_id,
    )
    return application.tokens.issue(Principal.platform("test", "test"), request).secret


def act_as_tenant(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant_id: str,
    permissions: Iterable[Permission] = (Permission.READ, Permission.WRITE),
) -> None:
    """Make ``client`` send a tenant admin's token of ``tenant_id`` with ``permissions``."""
    token = issue_token(app, Role.TENANT_ADMIN, tenant_id, permissions=permissions)
    client.headers["Authorization"] = f"Bearer {token}"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated (admin) client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=AUTH
    ) as http:
        yield http


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


ProblemCheck = Callable[[httpx.Response, int], dict[str, Any]]


@pytest.fixture
def expect_problem() -> ProblemCheck:
    """``expect_problem(response, status)`` asserts an RFC 9457 answer and returns it."""
    return assert_problem


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status``; returns the document."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert isinstance(problem, dict)
    assert problem["status"] == status
    for member in ("type", "title", "detail", "instance"):
        assert isinstance(problem[member], str) and problem[member], member
    assert "Traceback" not in response.text
    return problem


@dataclass
class SearchBackend:
    app: FastAPI
    client: httpx.AsyncClient
    seeder: MailSeeder


@pytest.fixture(params=["fts5", "opensearch"])
async def search_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SearchBackend]:
    """The API over embedded stores, searching with FTS5 or the test OpenSearch node."""
    search = fresh_index_url() if request.param == "opensearch" else ""
    settings = Settings(
        data_dir=tmp_path, api={"admin_token": ADMIN_TOKEN}, storage={"search": search}
    )
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    app = create_app(settings, stores, TOKEN_KEYS)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=AUTH
        ) as http:
            yield SearchBackend(app, http, MailSeeder(stores))
    finally:
        stores.close()
        if search:
            client = admin_client()
            client.indices.delete(index=parse_opensearch_url(search).index)
            client.close()
