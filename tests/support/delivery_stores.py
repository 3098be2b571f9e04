"""Fixtures: real embedded stores with one tenant, domain and two mailboxes, and a way to
spool mail (used by the pipeline and search suites through their conftest)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.support.sqlite_template import migrate_for_test


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, queue={"retry_base_seconds": 1, "max_attempts": 3})


@pytest.fixture
def stores(settings):
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    tenant = opened.metadata.create_tenant("example.test")
    opened.metadata.add_domain("example.test", tenant.id)
    opened.metadata.add_mailbox("alice@example.test")
    opened.metadata.add_mailbox("bob@example.test")
    yield opened
    opened.close()


@pytest.fixture
def spool_message(stores: Stores):
    def spool(body: bytes, *rcpts: str) -> MessageRef:
        info = stores.blobs.put(body)
        ref = MessageRef(id=new_id(), size=info.size, sha256=info.sha256, blob_key=info.key)
        envelope = Envelope(
            mail_from="s@remote.example", rcpt_tos=tuple(rcpts), received_at=datetime.now(UTC)
        )
        stores.metadata.commit_messages([SpoolRecord(ref=ref, envelope=envelope)])
        return ref

    return spool
