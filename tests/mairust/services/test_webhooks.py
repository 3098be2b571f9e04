"""The webhook service: URL rules through the outgoing address policy (names resolved by
an injected resolver), the secret sealed in the vault under the tenant and removed with
the endpoint, audit records, and tenant scoping."""

from __future__ import annotations

import ipaddress
import os

import pytest

from mairust.errors import Forbidden, InvalidInput, NotFound
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import PLATFORM, TenantScope
from mairust.net.address_guard import AddressPolicy, IPAddress
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.services.application import Application
from mairust.services.webhooks import UrlRules, records_resolve
from mairust.storage.stores import Stores
from tests.support.dict_resolver import DictResolver

from .conftest import TOKEN_KEYS, Clock, Tenants

NAMES = {"hooks.example": "93.184.216.34", "inside.example": "10.0.0.7", "lan.example": "127.0.0.1"}


def resolve(host: str) -> list[IPAddress]:
    if host not in NAMES:
        raise OSError(f"{host}: no such name")
    return [ipaddress.ip_address(NAMES[host])]


def admin_of(tenant_id: str) -> Principal:
    return Principal(
        Role.TENANT_ADMIN, TenantScope(tenant_id), frozenset(Permission), "token:x", "127.0.0.1"
    )


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_bytes(os.urandom(32))


@pytest.fixture
def vault(stores: Stores, keyring: Keyring) -> SecretVault:
    return SecretVault(stores.metadata, keyring)


@pytest.fixture
def app(stores: Stores, clock: Clock, keyring: Keyring) -> Application:
    rules = UrlRules(AddressPolicy(), resolve=resolve)
    return Application.over(stores, TOKEN_KEYS, clock, keyring=keyring, webhook_urls=rules)


def test_url_rules() -> None:
    rules = UrlRules(AddressPolicy(), resolve=resolve)
    assert rules.check("https://hooks.example/in") == "https://hooks.example/in"
    for refused in (
        "http://hooks.example/in",
        "https://inside.example/in",  # resolves to a private address
        "https://lan.example/in",
        "https://nowhere.example/in",  # does not resolve
        "https://[fd00::1]/in",
        "https://100.64.0.1/in",
        "https://hooks.example:99999/in",
        "https://hooks.example/in put",
    ):
        with pytest.raises(InvalidInput):
            rules.check(refused)
    lenient = UrlRules(AddressPolicy.allowing(["127.0.0.1/32"]), allow_http=True, resolve=resolve)
    assert lenient.check("http://lan.example:8080/in") == "http://lan.example:8080/in"
    with pytest.raises(InvalidInput):
        lenient.check("http://inside.example/in")  # only the allowed network is let through


def test_create_seals_the_secret_and_delete_removes_it(
    app: Application, tenants: Tenants, vault: SecretVault
) -> None:
    admin = admin_of(tenants.a.id)
    created = app.webhooks.create(admin, "https://hooks.example/in", ["message.delivered"])
    endpoint = created.endpoint
    assert created.secret.startswith("whsec_") and endpoint.tenant_id == tenants.a.id
    assert vault.reveal(TenantScope(tenants.a.id), endpoint.secret_id) == created.secret.encode()
    with pytest.raises(NotFound):  # the secret is the tenant's: another tenant cannot read it
        vault.reveal(TenantScope(tenants.b.id), endpoint.secret_id)
    app.webhooks.delete(admin, endpoint.id)
    with pytest.raises(NotFound):
        vault.reveal(PLATFORM, endpoint.secret_id)
    actions = [r.action for r in app.audit.page(admin)]
    assert actions == ["webhook.delete", "webhook.create"]


def test_another_tenant_and_users_get_nothing(app: Application, tenants: Tenants) -> None:
    created = app.webhooks.create(admin_of(tenants.a.id), "https://hooks.example/in")
    other = admin_of(tenants.b.id)
    assert app.webhooks.list_endpoints(other) == []
    for call in (
        lambda: app.webhooks.get(other, created.endpoint.id),
        lambda: app.webhooks.update(other, created.endpoint.id, enabled=False),
        lambda: app.webhooks.deliveries(other, created.endpoint.id),
        lambda: app.webhooks.delete(other, created.endpoint.id),
        lambda: app.webhooks.create(other, "https://hooks.example/x", tenant_id=tenants.a.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert app.webhooks.get(admin_of(tenants.a.id), created.endpoint.id) == created.endpoint
    user = Principal(
        Role.USER,
        TenantScope(tenants.a.id, tenants.alice.id),
        frozenset(Permission),
        "token:u",
        "127.0.0.1",
    )
    with pytest.raises(Forbidden):
        app.webhooks.list_endpoints(user)


def test_bad_input_changes_nothing(app: Application, tenants: Tenants) -> None:
    admin = admin_of(tenants.a.id)
    with pytest.raises(InvalidInput):
        app.webhooks.create(admin, "https://hooks.example/in", ["message.unknown"])
    with pytest.raises(InvalidInput):
        app.webhooks.create(admin, "https://inside.example/in")
    assert app.webhooks.list_endpoints(admin) == []
    created = app.webhooks.create(admin, "https://hooks.example/in")
    with pytest.raises(InvalidInput):
        app.webhooks.update(admin, created.endpoint.id, url="https://lan.example/in")
    assert app.webhooks.get(admin, created.endpoint.id).url == "https://hooks.example/in"


def test_without_a_vault_nothing_is_created(stores: Stores, clock: Clock, tenants: Tenants) -> None:
    app = Application.over(stores, TOKEN_KEYS, clock, webhook_urls=UrlRules(resolve=resolve))
    with pytest.raises(InvalidInput):
        app.webhooks.create(admin_of(tenants.a.id), "https://hooks.example/in")


def test_urls_are_checked_through_the_configured_resolver() -> None:
    resolver = DictResolver(
        {
            "hooks.example": {"A": ["93.184.215.14"], "AAAA": ["2606:2800:21f:cb07::1"]},
            "inside.example": {"A": ["10.0.0.5"]},
        }
    )
    rules = UrlRules(AddressPolicy(), resolve=records_resolve(resolver))
    assert rules.check("https://hooks.example/in") == "https://hooks.example/in"
    with pytest.raises(InvalidInput, match="refused"):
        rules.check("https://inside.example/in")  # a private address behind a public name
    with pytest.raises(InvalidInput, match="does not resolve"):
        rules.check("https://nowhere.example/in")
    assert ("hooks.example", "AAAA") in resolver.lookups
