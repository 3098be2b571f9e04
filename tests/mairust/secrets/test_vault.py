"""``SecretVault`` over every metadata backend: values never stored or returned in clear,
tenant isolation, refusal of moved or undecryptable secrets, key rotation."""

from __future__ import annotations

import base64
import os
from typing import cast

import pytest
import sqlalchemy as sa

from mairust.errors import InvalidInput, NotFound
from mairust.model.scope import PLATFORM, TenantScope
from mairust.model.secrets import SealedSecret, SecretPurpose, SecretRef
from mairust.secrets.keyring import Keyring, SecretUnreadable
from mairust.secrets.vault import RotationProgress, SecretVault
from mairust.storage.protocols import SecretStore
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_schema import secrets

KEY_OLD, KEY_NEW = os.urandom(32), os.urandom(32)
VALUE = b"whsec_" + base64.b64encode(b"a signing secret of 32 bytes....")
WEBHOOK = SecretPurpose.WEBHOOK_SIGNING


@pytest.fixture
def tenants(metadata_store: SqlMetadataStore) -> tuple[TenantScope, TenantScope]:
    a, b = metadata_store.create_tenant("a"), metadata_store.create_tenant("b")
    return TenantScope(a.id), TenantScope(b.id)


def _vault(store: SqlMetadataStore, key: bytes, *previous: bytes) -> SecretVault:
    return SecretVault(store, Keyring.from_bytes(key, previous))


def _row(store: SqlMetadataStore, secret_id: str) -> tuple[str, str, bytes]:
    """The secret's row as the database holds it (id, key id, ciphertext)."""
    query = sa.select(secrets.c.id, secrets.c.key_id, secrets.c.ciphertext).where(
        secrets.c.id == secret_id
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).one()
    return str(row.id), str(row.key_id), bytes(row.ciphertext)


def test_create_returns_a_reference_and_reveal_the_value(
    metadata_store: SqlMetadataStore, tenants: tuple[TenantScope, TenantScope]
) -> None:
    vault = _vault(metadata_store, KEY_OLD)
    ref = vault.create(tenants[0], WEBHOOK, VALUE)
    assert type(ref) is SecretRef and ref.tenant_id == tenants[0].tenant_id
    assert VALUE not in repr(ref).encode()
    assert vault.list(tenants[0]) == [ref] == vault.list(tenants[0], WEBHOOK)
    assert vault.list(tenants[0], SecretPurpose.DKIM_KEY) == []
    assert vault.get(tenants[0], ref.id) == ref
    assert vault.reveal(tenants[0], ref.id) == VALUE
    # A restart: a new vault over the same key opens it too.
    assert _vault(metadata_store, KEY_OLD).reveal(PLATFORM, ref.id) == VALUE


def test_the_stored_row_never_holds_the_value(
    metadata_store: SqlMetadataStore, tenants: tuple[TenantScope, TenantScope]
) -> None:
    ref = _vault(metadata_store, KEY_OLD).create(tenants[0], WEBHOOK, VALUE)
    _, key_id, stored = _row(metadata_store, ref.id)
    assert key_id == Keyring.from_bytes(KEY_OLD).current.key_id
    assert len(stored) >= len(VALUE) + 16
    for form in (VALUE, VALUE[6:], base64.b64decode(VALUE[6:]), VALUE.hex().encode()):
        assert form not in stored
    with metadata_store.engine.connect() as conn:
        dumped = repr(conn.execute(sa.select(secrets)).all()).encode()
    assert VALUE not in dumped and VALUE[6:] not in dumped


def test_another_tenants_secret_is_not_found(
    metadata_store: SqlMetadataStore, tenants: tuple[TenantScope, TenantScope]
) -> None:
    a, b = tenants
    vault = _vault(metadata_store, KEY_OLD)
    ref = vault.create(a, WEBHOOK, VALUE)
    for attempt in (vault.reveal, vault.get, vault.delete):
        with pytest.raises(NotFound):
            attempt(b, ref.id)
    assert vault.list(b) == []
    assert vault.reveal(a, ref.id) == VALUE  # untouched by B's attempts
    vault.delete(a, ref.id)
    with pytest.raises(NotFound):
        vault.reveal(a, ref.id)


def test_a_secret_for_a_mailbox_or_of_a_bad_size_is_refused(
    metadata_store: SqlMetadataStore, tenants: tuple[TenantScope, TenantScope]
) -> None:
    vault = _vault(metadata_store, KEY_OLD)
    user = TenantScope(tenants[0].tenant_id, mailbox_id="01MAILBOX")
    for scope, value in ((user, VALUE), (tenants[0], b""), (tenants[0], bytes(64 * 1024 + 1))):
        with pytest.raises(InvalidInput):
            vault.create(scope, WEBHOOK, value)
    assert vault.list(PLATFORM) == []


def test_the_wrong_key_fails_cleanly(
    metadata_store: SqlMetadataStore, tenants: tuple[TenantScope, TenantScope]
) -> None:
    ref = _vault(metadata_store, KEY_OLD).create(tenants[0], WEBHOOK, VALUE)
    with pytest.raises(SecretUnreadable, match=r"neither secrets\.key nor"):
        _vault(metadata_store, KEY_NEW).reveal(tenants[0], ref.id)


def test_a_ciphertext_moved_to_another_row_does_not_open(
    metadata_store: SqlMetadataStore, tenants: tuple[TenantScope, TenantScope]
) -> None:
    a, b = tenants
    vault = _vault(metadata_store, KEY_OLD)
    mine = vault.create(a, WEBHOOK, VALUE)
    theirs = vault.create(b, WEBHOOK, b"B's own secret")
    # Someone with write access to the database copies A's ciphertext into B's row.
    _, _, stolen = _row(metadata_store, mine.id)
    with metadata_store.engine.begin() as conn:
        conn.execute(secrets.update().where(secrets.c.id == theirs.id).values(ciphertext=stolen))
    with pytest.raises(SecretUnreadable, match=theirs.id):
        vault.reveal(b, theirs.id)
    assert vault.reveal(a, mine.id) == VALUE


def test_rotation_moves_every_secret_to_the_new_key(
    metadata_store: SqlMetadataStore, tenants: tuple[TenantScope, TenantScope]
) -> None:
    old = _vault(metadata_store, KEY_OLD)
    refs = [old.create(tenants[i % 2], WEBHOOK, f"value {i}".encode()) for i in range(5)]
    rotated = _vault(metadata_store, KEY_NEW, KEY_OLD)
    old_key_id = Keyring.from_bytes(KEY_OLD).current.key_id
    new_key_id = Keyring.from_bytes(KEY_NEW).current.key_id
    assert rotated.count_by_key() == {old_key_id: 5}
    # Before the rotation the previous key still opens them.
    assert rotated.reveal(PLATFORM, refs[0].id) == b"value 0"
    fresh = rotated.create(tenants[0], WEBHOOK, b"sealed under the new key")
    before = {ref.id: _row(metadata_store, ref.id)[2] for ref in refs}

    pages: list[tuple[int, int]] = []
    report = rotated.rotate(lambda p: pages.append((p.examined, p.resealed)), page_size=2)
    assert (report.examined, report.resealed, report.already_current) == (6, 5, 1)
    assert report.unreadable == [] and report.skipped == 0
    assert pages[-1] == (6, 5) and len(pages) == 3
    assert rotated.count_by_key() == {new_key_id: 6}
    assert all(_row(metadata_store, ref.id)[2] != before[ref.id] for ref in refs)
    # Without the old key every secret still opens, with the same value and reference.
    only_new = _vault(metadata_store, KEY_NEW)
    for i, ref in enumerate(refs):
        assert only_new.reveal(PLATFORM, ref.id) == f"value {i}".encode()
    assert only_new.reveal(tenants[0], fresh.id) == b"sealed under the new key"
    assert {r.id for r in only_new.list(PLATFORM)} == {fresh.id, *(ref.id for ref in refs)}
    # And the old key alone no longer does.
    with pytest.raises(SecretUnreadable):
        old.reveal(PLATFORM, refs[0].id)
    # Rotating again changes nothing.
    again = only_new.rotate()
    assert (again.examined, again.resealed, again.already_current) == (6, 0, 6)


def test_rotation_leaves_unreadable_secrets_and_rotates_the_rest(
    metadata_store: SqlMetadataStore, tenants: tuple[TenantScope, TenantScope]
) -> None:
    lost_key = os.urandom(32)
    lost = _vault(metadata_store, lost_key).create(tenants[0], WEBHOOK, b"lost")
    kept = _vault(metadata_store, KEY_OLD).create(tenants[1], WEBHOOK, b"kept")
    lost_row = _row(metadata_store, lost.id)
    report: RotationProgress = _vault(metadata_store, KEY_NEW, KEY_OLD).rotate()
    assert report.unreadable == [lost.id]
    assert (report.examined, report.resealed) == (2, 1)
    assert _row(metadata_store, lost.id) == lost_row  # left exactly as it was
    assert _vault(metadata_store, KEY_NEW).reveal(PLATFORM, kept.id) == b"kept"
    assert _vault(metadata_store, lost_key).reveal(PLATFORM, lost.id) == b"lost"


class _DeletesBeforeReplacing:
    """The real store, but each secret is deleted (as by a tenant admin) between the
    rotation's read and its replace."""

    def __init__(self, store: SqlMetadataStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def replace_sealed_secret(self, old: SealedSecret, new_key_id: str, ciphertext: bytes) -> bool:
        self.store.delete_secret(PLATFORM, old.ref.id)
        return self.store.replace_sealed_secret(old, new_key_id, ciphertext)


def test_rotation_never_brings_back_a_secret_deleted_meanwhile(
    metadata_store: SqlMetadataStore, tenants: tuple[TenantScope, TenantScope]
) -> None:
    ref = _vault(metadata_store, KEY_OLD).create(tenants[0], WEBHOOK, VALUE)
    racing = SecretVault(
        cast(SecretStore, _DeletesBeforeReplacing(metadata_store)),
        Keyring.from_bytes(KEY_NEW, [KEY_OLD]),
    )
    report = racing.rotate()
    assert (report.examined, report.resealed, report.skipped) == (1, 0, 1)
    with pytest.raises(NotFound):
        metadata_store.get_secret(PLATFORM, ref.id)
