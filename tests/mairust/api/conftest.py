"""Fixtures for the API tests: real embedded stores on tmp_path, filled through the store API.

The same tests run a second time against a live `mairust up` (``pytest --api-live`` or
``MAIRUST_TEST_API_LIVE=1``): its Serve ingress on PostgreSQL + S3 + OpenSearch
(tests/support/live_api.py). Then ``stores`` are opened here on the server's places
(emptied before each test), ``app`` holds the services built over them with the server's
secrets key (so the tokens it issues are the server's), and every client (``client``,
``anonymous``, ``connect``) talks HTTP to the server. A test joins the live pass by asking
for a client; one that cannot work over HTTP (it swaps the app's internals, moves a clock,
or needs settings a running server cannot change) carries ``in_process_only(reason)``.
Settings a module needs (``api_settings(section={...})``) go to the in-process app and
the live server alike.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

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
from mairust.net.http_client import default_tls_context
from mairust.search.indexing import search_document
from mairust.secrets.master_key import load_keyring
from mairust.services.application import Application
from mairust.services.tokens import TokenRequest
from mairust.storage.factory import open_stores
from mairust.storage.opensearch_search import parse_opensearch_url
from mairust.storage.stores import Stores
from tests.support.live_api import LivePlatform, LivePlatforms, Sections
from tests.support.mairust_server import free_port
from tests.support.matrix_catalog import catalog_settings
from tests.support.opensearch_indexes import admin_client, fresh_index_url
from tests.support.sqlite_template import migrate_for_test

ADMIN_TOKEN = "t"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# DNS for the tests that check domains' records: a loopback port where a test's zone
# server answers, or nothing does (no query ever leaves the machine).
LOOPBACK_DNS_PORT = free_port()
# The one other set of settings the API tests use (the live pass starts a second server
# for it; every test that needs any of these takes them all): DNS from loopback and the MX
# host the records name, webhook endpoints allowed on loopback (nothing is delivered to
# them), a small send cap, and a plugin catalog (tests/support/matrix_catalog.py).
SECOND_SETTINGS = pytest.mark.api_settings(
    smtp={"hostname": "mx.platform.test"},
    dns={"nameservers": ["127.0.0.1"], "port": LOOPBACK_DNS_PORT, "timeout": 0.5},
    webhooks={"allow_networks": ["127.0.0.1/32"], "allow_http": True},
    api={"max_send_size": 1000},
    hooks={"allow_networks": ["127.0.0.1/32"]},
    plugins=catalog_settings(),
)


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


HERE = Path(__file__).parent


def live_pass(config: pytest.Config) -> bool:
    """Whether this run is the live pass (the API tests against a real `mairust up`)."""
    return bool(config.getoption("--api-live")) or os.environ.get("MAIRUST_TEST_API_LIVE") == "1"


def api_sections(node: pytest.Item) -> Sections:
    """The settings sections the test asks for with ``api_settings(section={...})``."""
    marker = node.get_closest_marker("api_settings")
    return dict(marker.kwargs) if marker is not None else {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Live pass: keep the API tests that talk HTTP (they ask for ``connect``) and are not
    ``in_process_only``, grouped by their settings so that each set starts one server."""
    if not live_pass(config):
        return
    ours = [item for item in items if Path(str(item.fspath)).is_relative_to(HERE)]
    for item in ours:
        marker = item.get_closest_marker("in_process_only")
        if marker is not None and not (marker.args and str(marker.args[0]).strip()):
            raise pytest.UsageError(f"{item.nodeid}: in_process_only needs a reason")
    # A test on the app under test (it asks for the app, its stores or settings) without a
    # client of ours may make requests in-process: it must say so, or it would pass here
    # untested.
    unsure = [
        item.nodeid
        for item in ours
        if {"app", "stores", "settings"} & set(getattr(item, "fixturenames", ()))
        and "connect" not in getattr(item, "fixturenames", ())
        and item.get_closest_marker("in_process_only") is None
    ]
    if unsure:
        raise pytest.UsageError(
            "API tests that use the app without `connect` must be in_process_only: "
            + ", ".join(unsure)
        )
    keep = [
        item
        for item in ours
        if "connect" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("in_process_only") is None
    ]
    dropped = [item for item in ours if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    marked = [item for item in dropped if item.get_closest_marker("in_process_only")]
    config.stash[LIVE_COUNTS] = (len(keep), len(marked), len(dropped) - len(marked))
    kept = {id(item) for item in keep}
    order = {id(item): repr(sorted(api_sections(item).items())) for item in keep}
    others = [item for item in items if id(item) not in kept and item not in dropped]
    # The default settings first, then each other set together (a stable sort).
    items[:] = others + sorted(keep, key=lambda item: (order[id(item)] != "[]", order[id(item)]))


LIVE_COUNTS = pytest.StashKey[tuple[int, int, int]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = terminalreporter.config.stash.get(LIVE_COUNTS, None)
    if counts is not None:
        run, marked, other = counts
        terminalreporter.write_line(
            f"API tests against a live mairust up: {run} run; left to the in-process pass: "
            f"{marked} in_process_only, {other} that make no request to the app"
        )


@pytest.fixture(scope="session")
def live_platforms(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LivePlatforms | None]:
    if not live_pass(request.config):
        yield None
        return
    platforms = LivePlatforms(tmp_path_factory.mktemp("api-live"), ADMIN_TOKEN)
    try:
        yield platforms
    finally:
        platforms.close()


@pytest.fixture
def live(
    request: pytest.FixtureRequest, live_platforms: LivePlatforms | None
) -> LivePlatform | None:
    """The live platform (emptied for this test), or None in the in-process pass."""
    if live_platforms is None:
        return None
    platform = live_platforms.platform_for(api_sections(request.node))
    platform.reset()
    return platform


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, live: LivePlatform | None) -> Settings:
    if live is not None:
        return live.settings.model_copy(deep=True)
    sections: dict[str, Any] = api_sections(request.node)
    api = {"admin_token": ADMIN_TOKEN, **sections.pop("api", {})}
    return Settings(data_dir=tmp_path, api=api, **sections)


@pytest.fixture
def stores(settings: Settings, live: LivePlatform | None) -> Iterator[Stores]:
    if live is not None:
        yield live.stores
        return
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    yield opened
    opened.close()


@pytest.fixture
def seeder(stores: Stores) -> MailSeeder:
    return MailSeeder(stores)


# Keys the API token digests of the app under test (any 32 bytes will do).
TOKEN_KEYS = (b"mairust-test-token-digest-key-32",)


@pytest.fixture
def app(settings: Settings, stores: Stores, live: LivePlatform | None) -> FastAPI:
    """The app under test; live, only its ``state`` (the services over the live stores,
    keyed as the server's), which no client can call: requests go to the server."""
    if live is not None:
        keyring = load_keyring(settings)
        built = create_app(settings, stores, keyring.token_digest_keys(), keyring=keyring)
        state_only: Any = SimpleNamespace(state=built.state)
        return state_only
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


class Connect(Protocol):
    def __call__(self, token: str | None = None) -> httpx.AsyncClient: ...


@pytest.fixture
def connect(app: FastAPI, live: LivePlatform | None) -> Connect:
    """``connect(token)``: a new client sending ``token`` (None: no credentials) to the
    app under test: in-process, or the live server's Serve ingress."""

    def make(token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        if live is not None:
            # One TLS context for every client (plain HTTP: unused): making one loads the
            # CA store, ~15 ms a client, a sixth of the live pass's own time.
            return httpx.AsyncClient(
                base_url=live.base_url, headers=headers, timeout=60, verify=default_tls_context()
            )
        transport = httpx.ASGITransport(app=app)
        return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)

    return make


@pytest.fixture
async def serving(app: FastAPI, live: LivePlatform | None) -> AsyncIterator[None]:
    """The app's lifespan runs (its spool: the send route commits through it); the live
    server's runs already."""
    if live is not None:
        yield
        return
    async with app.router.lifespan_context(app):
        yield


@pytest.fixture
async def client(connect: Connect) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated (admin) client talking to the app under test."""
    async with connect(ADMIN_TOKEN) as http:
        yield http


@pytest.fixture
async def anonymous(connect: Connect) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials."""
    async with connect() as http:
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
    migrate_for_test(settings.storage)
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
