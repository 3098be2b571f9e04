"""Installations with mail in them for the backup tests, built in-process on real stores:
a tenant with a mailbox, delivered and indexed messages, a sealed secret, and a writer
thread that keeps spooling mail while a backup runs."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.model.message import Envelope
from mairust.model.scope import PLATFORM
from mairust.model.secrets import SecretPurpose
from mairust.search.indexing import index_entries
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.spool import Spool
from mairust.storage.factory import migrate, open_stores
from mairust.storage.sql_engine import SqlDatabase
from mairust.storage.sql_schema import messages
from tests.support.stored_entries import new_entry, tenant_with_mailboxes

SECRET = b"webhook signing secret"


@dataclass
class World:
    """What was written: every body by its sha256, and the ids to look for."""

    bodies: dict[str, bytes] = field(default_factory=dict)
    committed: int = 0  # messages the writer thread has had a 250 for
    secret_id: str = ""
    mailbox_address: str = ""


def body(number: int) -> bytes:
    """A distinct message, in CRLF, that search can find by the word ``backupword``."""
    return (
        f"From: sender@remote.test\r\nTo: box@acme.example\r\nSubject: note {number}\r\n"
        f"Message-ID: <{new_id()}@remote.test>\r\n\r\nbackupword number {number}\r\n"
        + "x" * (number % 7) * 100
        + "\r\n"
    ).encode()


def build_world(settings: Settings, messages_count: int) -> World:
    """Migrate, then deliver and index ``messages_count`` messages and seal a secret."""
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    world = World()
    try:
        _, [mailbox] = tenant_with_mailboxes(stores.metadata, "acme", "box")
        world.mailbox_address = mailbox.address

        async def spool_all() -> list[str]:
            spool = Spool(stores.metadata, stores.blobs)
            await spool.start()
            try:
                contents = [body(number) for number in range(messages_count)]
                for content in contents:
                    world.bodies[hashlib.sha256(content).hexdigest()] = content
                envelope = Envelope("sender@remote.test", (mailbox.address,), datetime.now(UTC))
                # Concurrently, as SMTP sessions would: the spool commits them in groups.
                refs = await asyncio.gather(*(spool.commit(c, envelope) for c in contents))
                return [ref.id for ref in refs]
            finally:
                await spool.stop()

        ids = asyncio.run(spool_all())
        entries = stores.metadata.store_entries([new_entry(mailbox, i) for i in ids])
        index_entries(stores, [entry for entry in entries if entry is not None])
        vault = SecretVault(stores.metadata, load_keyring(settings))
        world.secret_id = vault.create_platform(SecretPurpose.WEBHOOK_SIGNING, SECRET).id
    finally:
        stores.close()
    return world


@contextmanager
def writing_mail(settings: Settings, world: World) -> Iterator[threading.Event]:
    """A thread spooling mail until the block ends; the event is set once it has
    committed a few messages (so a backup taken then runs beside it)."""
    started, stop = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    async def write() -> None:
        stores = open_stores(settings.storage)
        spool = Spool(stores.metadata, stores.blobs, max_batch=8)
        await spool.start()
        try:
            number = 10_000
            while not stop.is_set():
                content = body(number)
                world.bodies[hashlib.sha256(content).hexdigest()] = content
                await spool.commit(
                    content,
                    Envelope("sender@remote.test", ("box@acme.example",), datetime.now(UTC)),
                )
                world.committed += 1
                number += 1
                if number == 10_005:
                    started.set()
        finally:
            await spool.stop()
            stores.close()

    def run() -> None:
        try:
            asyncio.run(write())
        except BaseException as error:  # reported to the test below
            failures.append(error)
            started.set()

    thread = threading.Thread(target=run, name="mail-writer")
    thread.start()
    try:
        yield started
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive() and not failures, failures


class WaitForWritesAfterSnapshot:
    """A backup progress report that, when the blob copy starts (the metadata snapshot is
    taken), waits until the writer has committed ``more`` messages: so the backup surely
    runs while rows and blobs it must leave out are being written."""

    def __init__(self, world: World, more: int = 3) -> None:
        self.world = world
        self.more = more
        self.committed_at_snapshot: int | None = None

    def stage(self, name: str, total: int | None) -> None:
        if name != "blobs":
            return
        self.committed_at_snapshot = self.world.committed
        deadline = time.monotonic() + 20
        while self.world.committed < self.committed_at_snapshot + self.more:
            assert time.monotonic() < deadline, "the writer stopped writing"
            time.sleep(0.01)

    def advance(self, count: int) -> None:
        """Nothing to count."""


def spool_one(settings: Settings) -> str:
    """Spool one more message (new queue rows: their ids come from the sequences)."""
    stores = open_stores(settings.storage)

    async def commit() -> str:
        spool = Spool(stores.metadata, stores.blobs)
        await spool.start()
        try:
            envelope = Envelope("sender@remote.test", ("box@acme.example",), datetime.now(UTC))
            return (await spool.commit(body(99_999), envelope)).id
        finally:
            await spool.stop()

    try:
        return asyncio.run(commit())
    finally:
        stores.close()


def stored_messages(settings: Settings) -> list[tuple[str, str]]:
    """(sha256, blob key) of every message row at ``settings``' metadata store."""
    db = SqlDatabase(settings.storage.metadata)
    try:
        with db.read() as conn:
            rows = conn.execute(sa.select(messages.c.sha256, messages.c.blob_key)).all()
    finally:
        db.close()
    return [(row.sha256, row.blob_key) for row in rows]


def revealed_secret(settings: Settings, secret_id: str) -> bytes:
    stores = open_stores(settings.storage)
    try:
        return SecretVault(stores.metadata, load_keyring(settings)).reveal(PLATFORM, secret_id)
    finally:
        stores.close()
