"""The sender rule: an authenticated client sends only as its own tenant's domains."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mairust.config import Settings
from mairust.routing.senders import SenderRefusal, login_sender_refusal, sender_refusal
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.support.sqlite_template import migrate_for_test


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    """Two tenants: acme owns a.example and a2.example, globex b.example."""
    settings = Settings(data_dir=tmp_path)
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    acme = opened.metadata.create_tenant("acme")
    globex = opened.metadata.create_tenant("globex")
    opened.metadata.add_domain("a.example", acme.id)
    opened.metadata.add_domain("a2.example", acme.id)
    opened.metadata.add_domain("b.example", globex.id)
    opened.metadata.add_mailbox("alice@a.example")
    opened.metadata.add_mailbox("bob@b.example")
    yield opened
    opened.close()


def tenant_of(stores: Stores, name: str) -> str:
    domain = stores.metadata.get_domain(name)
    assert domain is not None
    return domain.tenant_id


@pytest.mark.parametrize(
    ("sender", "refusal"),
    [
        ("alice@a.example", None),
        ("noreply@a.example", None),  # any address of the tenant's domains, mailbox or not
        ("news@a2.example", None),
        ("bob@b.example", SenderRefusal.NOT_OWNED),  # another tenant's domain
        ("x@nowhere.example", SenderRefusal.NOT_OWNED),  # nobody's: the same refusal
        ("", SenderRefusal.NULL_SENDER),
    ],
)
def test_a_tenant_sends_only_as_its_own_domains(
    stores: Stores, sender: str, refusal: SenderRefusal | None
) -> None:
    acme = tenant_of(stores, "a.example")
    assert sender_refusal(stores.metadata, sender, tenant_id=acme) == refusal
    assert login_sender_refusal(stores.metadata, "alice@a.example", sender) == refusal


def test_the_platform_admin_reaches_every_local_domain_and_no_other(stores: Stores) -> None:
    assert sender_refusal(stores.metadata, "bob@b.example", tenant_id=None) is None
    assert sender_refusal(stores.metadata, "alice@a.example", tenant_id=None) is None
    assert sender_refusal(stores.metadata, "x@nowhere.example", tenant_id=None) == (
        SenderRefusal.NOT_OWNED
    )


def test_a_login_is_bound_to_its_own_mailbox_tenant(stores: Stores) -> None:
    assert login_sender_refusal(stores.metadata, "bob@b.example", "bob@b.example") is None
    assert login_sender_refusal(stores.metadata, "bob@b.example", "alice@a.example") == (
        SenderRefusal.NOT_OWNED
    )
    # A mailbox deleted since AUTH owns nothing (never the platform admin's reach).
    assert login_sender_refusal(stores.metadata, "gone@a.example", "alice@a.example") == (
        SenderRefusal.NOT_OWNED
    )
