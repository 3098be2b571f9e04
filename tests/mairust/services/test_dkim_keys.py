"""DkimKeyService over real embedded stores: keygen (private half sealed in the secret
store only), rotation with a grace period for the retired key, listing, the records the DNS
helper publishes, the signer the delivery side gets (it verifies), tenant isolation, audit."""

from __future__ import annotations

from collections.abc import Mapping

import dkim  # type: ignore[import-untyped]
import pytest

from mairust.errors import Conflict, Forbidden, InvalidInput, NotFound
from mairust.model.dkim_keys import DkimAlgorithm, DkimKey, DkimKeyState
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import PLATFORM, TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.services.application import Application
from mairust.services.dkim_keys import DEFAULT_GRACE
from tests.mairust.services.conftest import ADMIN, TOKEN_KEYS, Clock, Tenants

KEYRING = Keyring.from_bytes(b"dkim-keys-test-master-key-32byte")
RSA, ED = DkimAlgorithm.RSA2048, DkimAlgorithm.ED25519
MESSAGE = b"From: alice@a.example\r\nTo: x@y.test\r\nSubject: hi\r\n\r\nHello.\r\n"


@pytest.fixture
def app(stores, clock) -> Application:
    return Application.over(stores, TOKEN_KEYS, clock, keyring=KEYRING)


def tenant_admin(tenant_id: str, *permissions: Permission) -> Principal:
    granted = frozenset(permissions or (Permission.READ, Permission.ADMIN))
    return Principal(Role.TENANT_ADMIN, TenantScope(tenant_id), granted, "token:t", "10.0.0.1")


def _verifies(message: bytes, keys: list[DkimKey]) -> list[bool]:
    records: Mapping[str, str] = {f"{k.dns_name}.": k.dns_record for k in keys}
    checker = dkim.DKIM(message)

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return records.get(name.decode(), "").encode()

    count = message.count(b"DKIM-Signature:")
    return [bool(checker.verify(idx=i, dnsfunc=dnsfunc)) for i in range(count)]


def test_keygen_seals_the_private_half_and_signs_with_both_kinds(
    app: Application, stores, tenants: Tenants, clock: Clock
) -> None:
    a = tenant_admin(tenants.a.id)
    assert app.dkim.signer_for("a.example") is None  # no key: unsigned, not an error
    rsa = app.dkim.keygen(a, "A.example")
    ed = app.dkim.keygen(a, "a.example", ED)
    assert (rsa.domain, rsa.selector, rsa.algorithm, rsa.state) == (
        "a.example",
        "mr202603",
        RSA,
        DkimKeyState.ACTIVE,
    )
    assert (ed.selector, ed.algorithm) == ("mr202603e", ED)
    assert app.dkim.list(a, "a.example") == [rsa, ed]
    vault = SecretVault(stores.metadata, KEYRING)
    refs = vault.list(TenantScope(tenants.a.id), SecretPurpose.DKIM_KEY)
    assert {ref.id for ref in refs} == {rsa.secret_id, ed.secret_id}
    assert b"PRIVATE KEY" in vault.reveal(PLATFORM, rsa.secret_id)
    assert "PRIVATE" not in repr(rsa) + repr(ed)
    signer = app.dkim.signer_for("a.example")
    assert signer is not None and set(signer.selectors) == {"mr202603", "mr202603e"}
    assert _verifies(signer.signed(MESSAGE), [rsa, ed]) == [True, True]
    audit = stores.metadata.list_audit(TenantScope(tenants.a.id), limit=10)
    assert [(r.action, r.target) for r in reversed(audit)] == [
        ("dkim.keygen", "a.example/mr202603"),
        ("dkim.keygen", "a.example/mr202603e"),
    ]


def test_one_active_key_per_kind_and_selectors_checked(app: Application, tenants: Tenants) -> None:
    a = tenant_admin(tenants.a.id)
    app.dkim.keygen(a, "a.example", RSA, selector="s1")
    with pytest.raises(Conflict):
        app.dkim.keygen(a, "a.example", RSA)
    with pytest.raises(Conflict):
        app.dkim.keygen(a, "a.example", ED, selector="s1")
    for bad in ("", "UPPER", "-x", "a_b", "x" * 64, "a..b"):
        with pytest.raises(InvalidInput):
            app.dkim.keygen(a, "a.example", ED, selector=bad)
    app.dkim.keygen(a, "a.example", ED, selector="ed.2026")
    assert [k.selector for k in app.dkim.list(a, "a.example")] == ["s1", "ed.2026"]


def test_rotation_retires_the_old_key_which_stays_published_for_the_grace(
    app: Application, stores, tenants: Tenants, clock: Clock
) -> None:
    a = tenant_admin(tenants.a.id)
    with pytest.raises(Conflict):  # nothing to rotate yet
        app.dkim.rotate(a, "a.example")
    old = app.dkim.keygen(a, "a.example")
    app.dkim.keygen(a, "a.example", ED)
    signed_before = app.dkim.signer_for("a.example").signed(MESSAGE)  # type: ignore[union-attr]
    clock.advance(days=1)
    (new,) = app.dkim.rotate(a, "a.example", RSA)
    assert new.selector == "mr202603-2" and new.algorithm is RSA
    keys = {k.selector: k for k in app.dkim.list(a, "a.example")}
    assert keys["mr202603"].state is DkimKeyState.RETIRED
    assert keys["mr202603"].retired_at == clock.now
    assert keys["mr202603e"].state is DkimKeyState.ACTIVE  # the other kind untouched
    # The signer follows at once (this process rotated); mail signed before still verifies.
    signer = app.dkim.signer_for("a.example")
    assert signer is not None and set(signer.selectors) == {"mr202603-2", "mr202603e"}
    published = app.dns.records(a, "a.example")
    dkim_names = [r.name for r in published.records if r.purpose == "dkim"]
    assert sorted(dkim_names) == [
        "mr202603-2._domainkey.a.example",
        "mr202603._domainkey.a.example",
        "mr202603e._domainkey.a.example",
    ]
    assert published.dkim_selector == "mr202603-2"
    assert _verifies(signed_before, list(keys.values())) == [True, True]
    # Past the grace the retired record is no longer published, and the next rotation
    # deletes the key and its secret.
    clock.advance(days=DEFAULT_GRACE.days + 1)
    assert "mr202603._domainkey.a.example" not in [
        r.name for r in app.dns.records(a, "a.example").records
    ]
    app.dkim.rotate(a, "a.example")
    left = [k.selector for k in app.dkim.list(a, "a.example")]
    assert "mr202603" not in left and len(left) == 4
    vault = SecretVault(stores.metadata, KEYRING)
    with pytest.raises(NotFound):
        vault.get(TenantScope(tenants.a.id), old.secret_id)
    actions = [r.action for r in stores.metadata.list_audit(TenantScope(tenants.a.id), limit=20)]
    assert actions.count("dkim.rotate") == 3


def test_another_tenants_domain_is_not_found(app: Application, stores, tenants: Tenants) -> None:
    b = tenant_admin(tenants.b.id)
    app.dkim.keygen(tenant_admin(tenants.a.id), "a.example")
    for call in (app.dkim.keygen, app.dkim.rotate, app.dkim.list):
        with pytest.raises(NotFound):
            call(b, "a.example")
        with pytest.raises(NotFound):
            call(b, "missing.example")
    assert len(app.dkim.list(ADMIN, "a.example")) == 1  # the operator sees every tenant
    assert SecretVault(stores.metadata, KEYRING).list(TenantScope(tenants.b.id)) == []


def test_permissions(app: Application, tenants: Tenants) -> None:
    reader = tenant_admin(tenants.a.id, Permission.READ)
    with pytest.raises(Forbidden):
        app.dkim.keygen(reader, "a.example")
    with pytest.raises(Forbidden):
        app.dkim.rotate(reader, "a.example")
    assert app.dkim.list(reader, "a.example") == []
    user = Principal(
        Role.USER,
        TenantScope(tenants.a.id, tenants.alice.id),
        frozenset(Permission),
        "token:u",
        "10.0.0.1",
    )
    for call in (app.dkim.keygen, app.dkim.list):
        with pytest.raises(Forbidden):
            call(user, "a.example")


def test_without_a_secret_store_keys_cannot_be_made(stores, clock, tenants: Tenants) -> None:
    app = Application.over(stores, TOKEN_KEYS, clock)
    with pytest.raises(InvalidInput, match="secret"):
        app.dkim.keygen(tenant_admin(tenants.a.id), "a.example")
    assert app.dkim.signer_for("a.example") is None
