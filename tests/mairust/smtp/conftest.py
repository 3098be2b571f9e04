"""Fixtures for the SMTP edge: real embedded stores, a real spool, real loopback listeners.

Clients are blocking (``smtplib``, raw sockets), so tests run them in a worker thread
with ``asyncio.to_thread`` while the servers run on the test's event loop.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mairust.config import Settings
from mairust.disk_space import DiskGuard
from mairust.model.message import MessageRef
from mairust.model.queue import QueueItem
from mairust.outbound.forwarding import Forwarder
from mairust.outbound.signing import CachedSignerLookup, SignerLookup
from mairust.passwords import hash_password
from mairust.routing.router import Directory
from mairust.smtp.deciders import EdgeHooks, InboundAuth
from mairust.smtp.frontend import SmtpFrontEnd, TokenCheck
from mairust.smtp.protocol import PasswordCheck
from mairust.spool import Spool
from mairust.storage.factory import open_stores
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.protocols import BlobStore, MetadataStore
from mairust.storage.stores import Stores
from mairust.telemetry import PlatformMetrics
from tests.support.sqlite_template import migrate_for_test

DOMAIN = "example.test"
HOSTNAME = "mx.example.test"
PASSWORD = "correct horse battery"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
JOSE = f"josé@{DOMAIN}"
SENDER = "sender@remote.test"


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    """Migrated embedded stores with one tenant, one local domain and a few mailboxes."""
    settings = Settings(data_dir=tmp_path)
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    tenant = opened.metadata.create_tenant("acme")
    opened.metadata.add_domain(DOMAIN, tenant.id)
    opened.metadata.add_mailbox(ALICE, hash_password(PASSWORD))
    opened.metadata.add_mailbox(BOB)
    opened.metadata.add_mailbox(JOSE)
    yield opened
    opened.close()


@dataclass
class Mta:
    """One running front-end with its spool and stores, and ways to look inside them."""

    settings: Settings
    stores: Stores
    spool: Spool
    frontend: SmtpFrontEnd
    listeners: list[tuple[str, str, int]]

    @property
    def port(self) -> int:
        return self._port_of("smtp")

    @property
    def submission_port(self) -> int:
        return self._port_of("submission")

    def _port_of(self, name: str) -> int:
        return next(port for listener, _, port in self.listeners if listener == name)

    def queued(self) -> list[QueueItem]:
        return self.stores.metadata.list_queue(limit=10_000)

    def recipients_of(self, message_id: str) -> list[str]:
        return sorted(item.recipient for item in self.queued() if item.message.id == message_id)

    def ref_of(self, message_id: str) -> MessageRef:
        return next(item.message for item in self.queued() if item.message.id == message_id)

    def body_of(self, message_id: str) -> bytes:
        return self.stores.blobs.get(self.ref_of(message_id).blob_key)

    def blob_files(self) -> list[Path]:
        """The files of the blob store these tests use (a local folder): asked of the store's
        own root, which must exist, so that "no blob" can never come from looking elsewhere."""
        store = self.stores.blobs
        assert isinstance(store, FileBlobStore), f"blob_files lists folders, not {store!r}"
        assert store.root.is_dir(), store.root
        return [path for path in store.root.rglob("*") if path.is_file()]


StartMta = Callable[..., Awaitable[Mta]]


@pytest.fixture
async def start_mta(tmp_path: Path, stores: Stores) -> AsyncIterator[StartMta]:
    """Start an MTA on free loopback ports; keyword arguments override ``[smtp]``
    settings, ``mailbox`` the ``[mailbox]`` ones, ``metadata``/``blobs``/``directory``/
    ``authenticator`` inject fakes, ``hooks`` are the hook points, ``signer_for`` the
    DKIM signers of submitters' domains (``cached_signer_for`` those at hand),
    ``forwarder`` the SRS/ARC of forwards, ``disk`` the free-space guard, ``admission``
    the ``[admission]`` settings (no greeting pause unless given), ``telemetry`` the
    counters of the edge and the spool, ``regions`` the ``[regions]`` settings."""
    running: list[Mta] = []

    async def start(
        *,
        metadata: MetadataStore | None = None,
        blobs: BlobStore | None = None,
        directory: Directory | None = None,
        authenticator: PasswordCheck | None = None,
        auth: InboundAuth | None = None,
        token_check: TokenCheck | None = None,
        hooks: EdgeHooks | None = None,
        signer_for: SignerLookup | None = None,
        cached_signer_for: CachedSignerLookup | None = None,
        forwarder: Forwarder | None = None,
        max_batch: int = 128,
        mailbox: dict[str, Any] | None = None,
        disk: DiskGuard | None = None,
        auth_settings: dict[str, Any] | None = None,
        clock: Callable[[], float] | None = None,
        admission: dict[str, Any] | None = None,
        telemetry: PlatformMetrics | None = None,
        regions: dict[str, Any] | None = None,
        **smtp: Any,
    ) -> Mta:
        settings = Settings(
            data_dir=tmp_path,
            smtp={"hostname": HOSTNAME, "port": 0, "submission_port": 0, **smtp},
            mailbox=mailbox or {},
            auth=auth_settings or {},
            # No greeting pause unless a test asks: tests that narrow the trusted networks
            # would wait it on every connection.
            admission={"greet_pause_seconds": 0, **(admission or {})},
            regions=regions or {},
        )
        spool = Spool(
            metadata or stores.metadata,
            blobs or stores.blobs,
            max_batch=max_batch,
            telemetry=telemetry,
        )
        await spool.start()
        frontend = SmtpFrontEnd(
            settings,
            directory or stores.metadata,
            spool,
            authenticator,
            auth=auth,
            token_check=token_check,
            hooks=hooks,
            suppressions=stores.metadata.suppressed,
            signer_for=signer_for,
            cached_signer_for=cached_signer_for,
            forwarder=forwarder,
            disk=disk,
            clock=clock or time.monotonic,
            telemetry=telemetry,
        )
        listeners = await frontend.start()
        mta = Mta(settings, stores, spool, frontend, listeners)
        running.append(mta)
        return mta

    yield start
    for mta in reversed(running):
        await mta.frontend.stop(grace_seconds=1.0)
        await mta.spool.stop()


@pytest.fixture
async def mta(start_mta: StartMta) -> Mta:
    return await start_mta()


class RawClient:
    """A blocking SMTP client that sends exactly the bytes it is given."""

    def __init__(self, port: int, source: str | None = None) -> None:
        """``source``: the loopback address to connect from (127.0.0.1 is trusted)."""
        source_address = None if source is None else (source, 0)
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=30, source_address=source_address
        )
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> str:
        """One complete (possibly multi-line) reply, lines joined with CRLF."""
        lines: list[str] = []
        while True:
            raw = self.file.readline()
            if not raw:
                raise ConnectionError("server closed the connection")
            line = raw.decode("utf-8").rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\r\n".join(lines)

    def send(self, data: bytes | str) -> str:
        """Send ``data`` (a str gets CRLF appended) and return the reply to it."""
        if isinstance(data, str):
            data = data.encode("utf-8") + b"\r\n"
        self.sock.sendall(data)
        return self.reply()

    def dialog(self, commands: Sequence[bytes | str]) -> list[str]:
        return [self.send(command) for command in commands]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


RawClientFactory = Callable[..., RawClient]


@pytest.fixture
def raw_client() -> Iterator[RawClientFactory]:
    """Opens raw clients (in the calling thread) and closes them after the test."""
    opened: list[RawClient] = []

    def connect(port: int, source: str | None = None) -> RawClient:
        client = RawClient(port, source)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()
