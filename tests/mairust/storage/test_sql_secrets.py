"""Contract tests of the secret store role (every backend in conftest.METADATA_URLS).

The store only keeps what it is given: sealing is mairust.secrets' job, so these tests
hand it opaque bytes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from mairust.errors import Conflict, NotFound
from mairust.model.ids import new_id
from mairust.model.scope import PLATFORM, TenantScope
from mairust.model.secrets import SealedSecret, SecretPurpose, SecretRef
from mairust.storage.sql_metadata import SqlMetadataStore


def _sealed(
    tenant_id: str,
    purpose: SecretPurpose = SecretPurpose.WEBHOOK_SIGNING,
    key_id: str = "k1",
) -> SealedSecret:
    ref = SecretRef(new_id(), tenant_id, purpose, datetime.now(UTC))
    return SealedSecret(ref, key_id, os.urandom(48))


@pytest.fixture
def tenants(metadata_store: SqlMetadataStore) -> tuple[str, str]:
    return metadata_store.create_tenant("a").id, metadata_store.create_tenant("b").id


def test_a_secret_comes_back_as_it_was_put(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    secret = _sealed(tenants[0], SecretPurpose.DKIM_KEY)
    metadata_store.put_secret(secret)
    got = metadata_store.get_secret(TenantScope(tenants[0]), secret.ref.id)
    assert got == secret
    assert got.ciphertext == secret.ciphertext
    assert got.ref.created_at.utcoffset() is not None


def test_listing_gives_references_by_tenant_and_purpose(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, b = tenants
    webhook, dkim = _sealed(a), _sealed(a, SecretPurpose.DKIM_KEY)
    other = _sealed(b)
    for secret in (webhook, dkim, other):
        metadata_store.put_secret(secret)
    assert metadata_store.list_secrets(TenantScope(a)) == [webhook.ref, dkim.ref]
    assert metadata_store.list_secrets(TenantScope(a), SecretPurpose.DKIM_KEY) == [dkim.ref]
    assert metadata_store.list_secrets(TenantScope(b)) == [other.ref]
    assert {ref.id for ref in metadata_store.list_secrets(PLATFORM)} == {
        webhook.ref.id,
        dkim.ref.id,
        other.ref.id,
    }
    assert all(type(ref) is SecretRef for ref in metadata_store.list_secrets(PLATFORM))


def test_another_tenants_secret_is_not_found(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, b = tenants
    secret = _sealed(a)
    metadata_store.put_secret(secret)
    with pytest.raises(NotFound):
        metadata_store.get_secret(TenantScope(b), secret.ref.id)
    with pytest.raises(NotFound):
        metadata_store.delete_secret(TenantScope(b), secret.ref.id)
    # Its positive twin: the owner and the platform reach it, and B's delete changed nothing.
    assert metadata_store.get_secret(TenantScope(a), secret.ref.id) == secret
    assert metadata_store.get_secret(PLATFORM, secret.ref.id) == secret


def test_a_mailbox_scope_sees_no_secret_of_its_tenant(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    secret = _sealed(tenants[0])
    metadata_store.put_secret(secret)
    user = TenantScope(tenants[0], mailbox_id=new_id())
    assert metadata_store.list_secrets(user) == []
    with pytest.raises(NotFound):
        metadata_store.get_secret(user, secret.ref.id)
    with pytest.raises(NotFound):
        metadata_store.delete_secret(user, secret.ref.id)
    assert metadata_store.list_secrets(TenantScope(tenants[0])) == [secret.ref]


def test_delete_removes_it(metadata_store: SqlMetadataStore, tenants: tuple[str, str]) -> None:
    secret = _sealed(tenants[0])
    metadata_store.put_secret(secret)
    metadata_store.delete_secret(TenantScope(tenants[0]), secret.ref.id)
    with pytest.raises(NotFound):
        metadata_store.get_secret(PLATFORM, secret.ref.id)
    with pytest.raises(NotFound):
        metadata_store.delete_secret(PLATFORM, secret.ref.id)


def test_an_unknown_tenant_or_a_taken_id_is_refused(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    with pytest.raises(NotFound):
        metadata_store.put_secret(_sealed(new_id()))
    secret = _sealed(tenants[0])
    metadata_store.put_secret(secret)
    with pytest.raises(Conflict):
        metadata_store.put_secret(secret)
    assert metadata_store.list_secrets(PLATFORM) == [secret.ref]


def test_pages_of_sealed_secrets_cover_every_tenant_once(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    put = [_sealed(tenants[i % 2]) for i in range(5)]
    for secret in put:
        metadata_store.put_secret(secret)
    seen: list[SealedSecret] = []
    after: str | None = None
    while page := metadata_store.sealed_secrets_page(after, 2):
        assert len(page) <= 2
        seen += page
        after = page[-1].ref.id
    assert seen == sorted(put, key=lambda secret: secret.ref.id)


def test_replacing_a_sealed_secret_only_if_it_is_unchanged(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    secret = _sealed(tenants[0], key_id="old")
    metadata_store.put_secret(secret)
    assert metadata_store.count_secrets_by_key() == {"old": 1}
    assert metadata_store.replace_sealed_secret(secret, "new", b"resealed")
    got = metadata_store.get_secret(PLATFORM, secret.ref.id)
    assert (got.key_id, got.ciphertext, got.ref) == ("new", b"resealed", secret.ref)
    # A second rotation holding the first read's ciphertext loses: the row changed.
    assert not metadata_store.replace_sealed_secret(secret, "other", b"stale")
    assert metadata_store.get_secret(PLATFORM, secret.ref.id).ciphertext == b"resealed"
    # A deleted secret stays deleted.
    metadata_store.delete_secret(PLATFORM, secret.ref.id)
    assert not metadata_store.replace_sealed_secret(got, "new", b"again")
    with pytest.raises(NotFound):
        metadata_store.get_secret(PLATFORM, secret.ref.id)
    assert metadata_store.count_secrets_by_key() == {}


def test_counts_by_key(metadata_store: SqlMetadataStore, tenants: tuple[str, str]) -> None:
    for key_id in ("k1", "k1", "k2"):
        metadata_store.put_secret(_sealed(tenants[1], key_id=key_id))
    assert metadata_store.count_secrets_by_key() == {"k1": 2, "k2": 1}
