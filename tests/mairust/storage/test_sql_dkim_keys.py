"""Contract tests of sending domains' DKIM keys (every backend in conftest.METADATA_URLS):
one active key per algorithm, rotation in one transaction, scoped reads, purging retired
keys, and the old ``domain_dkim_keys`` rows carried over by migration 0026."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from mairust.errors import Conflict, NotFound
from mairust.model.dkim_keys import DkimAlgorithm, DkimKey, DkimKeyState
from mairust.model.ids import new_id
from mairust.model.scope import PLATFORM, TenantScope
from mairust.storage.sql_engine import create_sql_engine
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_migrations import alembic_config, upgrade_to_head

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_MADE = itertools.count()
RSA = DkimAlgorithm.RSA2048
ED = DkimAlgorithm.ED25519


def key(
    tenant: str, selector: str, algorithm: DkimAlgorithm = RSA, domain: str = "a.test"
) -> DkimKey:
    return DkimKey(
        new_id(),
        tenant,
        domain,
        selector,
        algorithm,
        f"pub-{selector}",
        f"sec-{selector}",
        DkimKeyState.ACTIVE,
        NOW + timedelta(seconds=next(_MADE)),  # made one after another: listed so
    )


@pytest.fixture
def tenants(metadata_store: SqlMetadataStore) -> tuple[str, str]:
    a = metadata_store.create_tenant("a").id
    b = metadata_store.create_tenant("b").id
    metadata_store.add_domain("a.test", a)
    metadata_store.add_domain("b.test", b)
    return a, b


def test_one_active_key_per_algorithm(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, b = tenants
    rsa, ed = key(a, "mr1"), key(a, "mr1e", ED)
    metadata_store.add_dkim_key(rsa)
    metadata_store.add_dkim_key(ed)
    assert metadata_store.active_dkim_keys("A.TEST") == [ed, rsa]
    assert metadata_store.list_dkim_keys(TenantScope(a), "a.test") == [rsa, ed]
    with pytest.raises(Conflict):  # a second active RSA key
        metadata_store.add_dkim_key(key(a, "mr2"))
    with pytest.raises(Conflict):  # a selector taken
        metadata_store.add_dkim_key(replace(key(a, "mr1", ED), state=DkimKeyState.RETIRED))
    with pytest.raises(NotFound):  # another tenant's domain
        metadata_store.add_dkim_key(key(b, "mr3"))
    assert metadata_store.list_dkim_keys(TenantScope(a), "a.test") == [rsa, ed]


def test_reads_are_scoped(metadata_store: SqlMetadataStore, tenants: tuple[str, str]) -> None:
    a, b = tenants
    metadata_store.add_dkim_key(key(a, "mr1"))
    assert metadata_store.list_dkim_keys(TenantScope(b), "a.test") == []
    assert metadata_store.list_dkim_keys(TenantScope(a, "some-mailbox"), "a.test") == []
    assert len(metadata_store.list_dkim_keys(PLATFORM, "a.test")) == 1
    assert metadata_store.active_dkim_keys("b.test") == []
    assert metadata_store.purge_dkim_keys(TenantScope(b), "a.test", NOW + timedelta(days=99)) == []


def test_rotation_retires_the_old_key_in_the_same_transaction(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    old, new = key(a, "mr1"), key(a, "mr2")
    metadata_store.add_dkim_key(old)
    metadata_store.rotate_dkim_key(old, new, NOW)
    retired = replace(old, state=DkimKeyState.RETIRED, retired_at=NOW)
    assert metadata_store.list_dkim_keys(TenantScope(a), "a.test") == [retired, new]
    assert metadata_store.active_dkim_keys("a.test") == [new]
    # A rotation that read the old key before this one finished loses, changing nothing.
    with pytest.raises(Conflict):
        metadata_store.rotate_dkim_key(old, key(a, "mr3"), NOW)
    # A new key whose insert fails (selector taken) leaves the old one active.
    with pytest.raises(Conflict):
        metadata_store.rotate_dkim_key(new, key(a, "mr1"), NOW)
    assert metadata_store.active_dkim_keys("a.test") == [new]


def test_purge_removes_keys_retired_before_the_grace_ends(
    metadata_store: SqlMetadataStore, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    first, second, third = key(a, "mr1"), key(a, "mr2"), key(a, "mr3")
    metadata_store.add_dkim_key(first)
    metadata_store.rotate_dkim_key(first, second, NOW)
    metadata_store.rotate_dkim_key(second, third, NOW + timedelta(days=5))
    gone = metadata_store.purge_dkim_keys(TenantScope(a), "a.test", NOW + timedelta(days=1))
    assert [k.selector for k in gone] == ["mr1"]
    left = metadata_store.list_dkim_keys(TenantScope(a), "a.test")
    assert [(k.selector, k.state) for k in left] == [
        ("mr2", DkimKeyState.RETIRED),
        ("mr3", DkimKeyState.ACTIVE),
    ]


def test_0026_carries_the_old_per_domain_keys_over(metadata_url: str) -> None:
    """Down to 0025 (0026's downgrade brings the old table back), a key there, up again."""
    engine = create_sql_engine(metadata_url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0025")
            conn.execute(sa.text("INSERT INTO tenants VALUES ('t1', 'acme', :now)"), {"now": NOW})
            conn.execute(
                sa.text(
                    "INSERT INTO domains (name, tenant_id, created_at)"
                    " VALUES ('a.test', 't1', :now)"
                ),
                {"now": NOW},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO domain_dkim_keys"
                    " (domain, selector, public_key, secret_id, created_at)"
                    " VALUES ('a.test', 'mr202611', 'MIIB', 'secret-1', :now)"
                ),
                {"now": NOW},
            )
    finally:
        engine.dispose()
    upgrade_to_head(metadata_url)
    store = SqlMetadataStore(metadata_url)
    try:
        (moved,) = store.active_dkim_keys("a.test")
    finally:
        store.close()
    assert (moved.tenant_id, moved.selector, moved.algorithm, moved.public_key) == (
        "t1",
        "mr202611",
        RSA,
        "MIIB",
    )
    assert (moved.secret_id, moved.state, moved.created_at) == (
        "secret-1",
        DkimKeyState.ACTIVE,
        NOW,
    )
