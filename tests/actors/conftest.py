"""Fixtures for the actor tests: one loopback Ray per module, real embedded stores, real actors.

Ray starts through ``cluster.ray_runtime.start_ray`` (as in production), so ``cluster``
is imported before ``ray``: it sets the environment Ray reads at import time.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import ray

from cluster.ray_runtime import start_ray
from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.model.mailbox import MailboxEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.queue import QueueItem
from mairust.model.scope import PLATFORM
from mairust.storage.factory import open_stores
from tests.support.sqlite_template import migrate_for_test

DOMAIN = "example.test"
# Long enough that only a nudge (not the dispatcher's periodic poll) delivers within a test.
POLL_INTERVAL = 30.0


class MailWorld:
    """Migrated embedded stores under one data dir, with a local domain, as `mairust up` has.

    The stores are opened here before any actor opens them: like ``prepare_stores`` in
    production, so that actors never race to create a fresh database file.
    """

    def __init__(self, data_dir: Path, **overrides: Any) -> None:
        self.settings = Settings(
            data_dir=data_dir,
            domains=[DOMAIN],
            smtp={"port": 0, "submission_port": 0, "hostname": "mx.example.test"},
            queue={"poll_interval": POLL_INTERVAL, "lease_seconds": 60},
            cluster={"pipeline_workers": 2},
            **overrides,
        )
        migrate_for_test(self.settings.storage)
        self.stores = open_stores(self.settings.storage)
        tenant = self.stores.metadata.create_tenant(DOMAIN)
        self.stores.metadata.add_domain(DOMAIN, tenant.id)

    def mailbox(self, local_part: str | None = None) -> str:
        """A new mailbox in the local domain; its address."""
        address = f"{local_part or 'u' + new_id().lower()}@{DOMAIN}"
        self.stores.metadata.add_mailbox(address)
        return address

    def spool(self, body: bytes, *rcpts: str) -> MessageRef:
        """Commit a message as the spool does: blob first, then message and queue rows."""
        info = self.stores.blobs.put(body)
        ref = MessageRef(id=new_id(), size=info.size, sha256=info.sha256, blob_key=info.key)
        envelope = Envelope(
            mail_from="sender@remote.example",
            rcpt_tos=rcpts,
            received_at=datetime.now(UTC),
            helo="client.remote.example",
            client_ip="127.0.0.1",
        )
        self.stores.metadata.commit_messages([SpoolRecord(ref=ref, envelope=envelope)])
        return ref

    def entries(self, message_id: str) -> list[MailboxEntry]:
        """Mailbox entries of one message, in any mailbox."""
        every = self.stores.metadata.list_entries(PLATFORM, limit=1000)
        return [entry for entry in every if entry.message_id == message_id]

    def rows(self, message_id: str) -> list[QueueItem]:
        """Queue rows of one message, in any state."""
        every = self.stores.metadata.list_queue(None, limit=1000)
        return [row for row in every if row.message.id == message_id]

    def search(self, word: str) -> set[str]:
        """Entry ids the search index finds for ``word``."""
        return {hit.entry_id for hit in self.stores.search.search(PLATFORM, word)}

    def close(self) -> None:
        self.stores.close()


def message_body(word: str, subject: str = "hello from the tests") -> bytes:
    return (
        "From: Sender <sender@remote.example>\r\n"
        f"To: someone@{DOMAIN}\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{new_id()}@remote.example>\r\n"
        "\r\n"
        f"The body carries the word {word}.\r\n"
    ).encode()


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A local Ray on 127.0.0.1 for the whole module, shut down at its end."""
    assert not ray.is_initialized(), "another test left Ray running"
    start_ray(Settings(data_dir=tmp_path_factory.mktemp("ray")))
    yield
    ray.shutdown()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[MailWorld]:
    opened = MailWorld(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def module_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailWorld]:
    opened = MailWorld(tmp_path_factory.mktemp("world") / "data")
    yield opened
    opened.close()


@pytest.fixture
def body() -> Callable[..., bytes]:
    return message_body


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    return wait_for


class ActorKeeper:
    """Creates actors and kills them (no restart) when its fixture ends."""

    def __init__(self) -> None:
        self._spawned: list[Any] = []

    def __call__(self, actor_class: Any, *args: Any, **options: Any) -> Any:
        handle = (actor_class.options(**options) if options else actor_class).remote(*args)
        self._spawned.append(handle)
        return handle

    def kill_all(self) -> None:
        for handle in self._spawned:
            ray.kill(handle, no_restart=True)
        self._spawned.clear()


@pytest.fixture
def spawn(ray_cluster: None) -> Iterator[ActorKeeper]:
    """``spawn(ActorClass, *args, **options)``: an actor that lives for one test."""
    keeper = ActorKeeper()
    yield keeper
    keeper.kill_all()


@pytest.fixture(scope="module")
def module_spawn(ray_cluster: None) -> Iterator[ActorKeeper]:
    """``module_spawn(ActorClass, *args, **options)``: an actor that lives for the module."""
    keeper = ActorKeeper()
    yield keeper
    keeper.kill_all()
