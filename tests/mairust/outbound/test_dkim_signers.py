"""DkimSigners: a domain's active keys opened from the secret store into one signer, cached
for its time to live (a rotation elsewhere shows after it; ``forget`` drops it at once), no
signer for a domain without keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.config import DkimSettings
from mairust.model.dkim_keys import DkimAlgorithm, DkimKey, DkimKeyState
from mairust.model.ids import new_id
from mairust.model.scope import TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.outbound.dkim_signer import private_key_pem, public_key_text
from mairust.outbound.dkim_signers import DkimSigners
from mairust.outbound.signing import Cache
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.sqlite_template import upgrade_to_head_for_test


class Clock:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    opened = SqlMetadataStore(url)
    yield opened
    opened.close()


def _key(store: SqlMetadataStore, vault: SecretVault, tenant: str, selector: str) -> DkimKey:
    pem = private_key_pem(DkimAlgorithm.ED25519)
    ref = vault.create(TenantScope(tenant), SecretPurpose.DKIM_KEY, pem)
    return DkimKey(
        new_id(),
        tenant,
        "a.test",
        selector,
        DkimAlgorithm.ED25519,
        public_key_text(DkimAlgorithm.ED25519, pem),
        ref.id,
        DkimKeyState.ACTIVE,
        Clock.now,
    )


def test_signers_are_cached_for_their_time_to_live(store: SqlMetadataStore) -> None:
    tenant = store.create_tenant("a").id
    store.add_domain("a.test", tenant)
    vault = SecretVault(store, Keyring.from_bytes(b"dkim-signers-test-master-key-32b"))
    clock = Clock()
    signers = DkimSigners(store, vault, clock=clock, cache_seconds=60)
    assert signers.signer_for("a.test") is None
    first = _key(store, vault, tenant, "one")
    store.add_dkim_key(first)
    assert signers.signer_for("a.test") is None  # "no key" is cached too
    clock.now += timedelta(seconds=61)
    signer = signers.signer_for("A.TEST.")
    assert signer is not None and signer.selectors == ("one",)
    assert signers.signer_for("a.test") is signer  # built once
    store.rotate_dkim_key(first, _key(store, vault, tenant, "two"), clock.now)  # elsewhere
    assert signers.signer_for("a.test") is signer
    clock.now += timedelta(seconds=61)
    assert signers.signer_for("a.test").selectors == ("two",)  # type: ignore[union-attr]
    third = _key(store, vault, tenant, "three")
    store.rotate_dkim_key(store.active_dkim_keys("a.test")[0], third, clock.now)
    signers.forget("a.test")
    assert signers.signer_for("a.test").selectors == ("three",)  # type: ignore[union-attr]


def test_the_cached_answer_is_given_without_the_store_or_said_missing(
    store: SqlMetadataStore,
) -> None:
    tenant = store.create_tenant("a").id
    store.add_domain("a.test", tenant)
    vault = SecretVault(store, Keyring.from_bytes(b"dkim-signers-test-master-key-32b"))
    store.add_dkim_key(_key(store, vault, tenant, "one"))
    clock = Clock()
    signers = DkimSigners(store, vault, clock=clock, cache_seconds=60)
    assert signers.cached_signer_for("a.test") is Cache.MISS  # never asked: not at hand
    assert signers.cached_signer_for("b.test") is Cache.MISS
    signer = signers.signer_for("a.test")
    signers.signer_for("b.test")
    assert signer is not None and signers.cached_signer_for("A.Test.") is signer
    assert signers.cached_signer_for("b.test") is None  # "no keys" is an answer at hand
    clock.now += timedelta(seconds=61)
    assert signers.cached_signer_for("a.test") is Cache.MISS  # expired: ask the store again
    signers.signer_for("a.test")
    signers.forget("a.test")
    assert signers.cached_signer_for("a.test") is Cache.MISS


def test_from_settings_sets_the_cache_time_and_expiry(store: SqlMetadataStore) -> None:
    tenant = store.create_tenant("a").id
    store.add_domain("a.test", tenant)
    vault = SecretVault(store, Keyring.from_bytes(b"dkim-signers-test-master-key-32b"))
    store.add_dkim_key(_key(store, vault, tenant, "one"))
    clock = Clock()
    settings = DkimSettings(signer_cache_seconds=0, signature_expire_days=2)
    signers = DkimSigners.from_settings(store, vault, settings, clock)
    first = signers.signer_for("a.test")
    assert first is not None and signers.signer_for("a.test") is not first  # no cache
    fields = first.sign(b"From: a@a.test\r\n\r\nHi.\r\n").replace(b"\r\n\t", b" ")
    assert f"x={int(clock.now.timestamp()) + 2 * 86400};".encode() in fields
    plain = DkimSigners.from_settings(store, vault, DkimSettings(), clock).signer_for("a.test")
    assert plain is not None and b"x=" not in plain.sign(b"From: a@a.test\r\n\r\nHi.\r\n")
