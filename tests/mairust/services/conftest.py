"""Services over real embedded stores, with a clock the tests move."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.config import Settings
from mairust.model.directory import Mailbox, Tenant
from mairust.model.principal import Principal
from mairust.passwords import hash_password
from mairust.services.application import Application
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.support.sqlite_template import migrate_for_test

TOKEN_KEYS = (b"services-test-token-digest-key!!",)
ADMIN = Principal.platform("test-admin", "127.0.0.1")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    settings = Settings(data_dir=tmp_path)
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def application(stores: Stores, clock: Clock) -> Application:
    return Application.over(stores, TOKEN_KEYS, clock)


class Tenants:
    """Two tenants, each with a domain and a user with a password."""

    def __init__(self, stores: Stores) -> None:
        metadata = stores.metadata
        self.a: Tenant = metadata.create_tenant("a")
        self.b: Tenant = metadata.create_tenant("b")
        metadata.add_domain("a.example", self.a.id)
        metadata.add_domain("b.example", self.b.id)
        self.alice: Mailbox = metadata.add_mailbox("alice@a.example", hash_password("alice pw"))
        self.amos: Mailbox = metadata.add_mailbox("amos@a.example", hash_password("amos pw"))
        self.bob: Mailbox = metadata.add_mailbox("bob@b.example", hash_password("bob pw"))


@pytest.fixture
def tenants(stores: Stores) -> Tenants:
    return Tenants(stores)
