"""DomainDnsService: the records a tenant publishes (a DKIM key made once, its private
half only in the secret store) and their check through a real resolver against a loopback
DNS server serving test zones."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mairust.auth.dns_resolver import CachingResolver
from mairust.errors import NotFound
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.services.application import Application
from mairust.services.domain_dns import DMARC_POLICY
from tests.mairust.services.conftest import TOKEN_KEYS
from tests.support.dns_server import ZoneServer

MX_HOST = "mx.platform.test"
KEYRING = Keyring.from_bytes(b"domain-dns-test-master-key-32by!")


@pytest.fixture
def zone() -> Iterator[ZoneServer]:
    with ZoneServer({}, servfail_names=["_dmarc.b.example"], ttl=1) as server:
        yield server


@pytest.fixture
def dns_app(stores, clock, zone) -> Application:
    resolver = CachingResolver(["127.0.0.1"], port=zone.port, timeout=2.0, cache_size=0)
    return Application.over(
        stores, TOKEN_KEYS, clock, keyring=KEYRING, resolver=resolver, mx_host=MX_HOST + "."
    )


def reader(tenant_id: str, mailbox_id: str | None = None) -> Principal:
    role = Role.USER if mailbox_id else Role.TENANT_ADMIN
    scope = TenantScope(tenant_id, mailbox_id)
    return Principal(role, scope, frozenset({Permission.READ}), "token:r", "10.0.0.1")


def test_the_records_name_the_platform_and_the_domains_own_key(dns_app, stores, tenants):
    dns = dns_app.dns.records(reader(tenants.a.id), "A.example")
    by_purpose = {record.purpose: record for record in dns.records}
    assert by_purpose["mx"].value == f"10 {MX_HOST}"
    assert by_purpose["mx"].zone_line() == f"a.example. 3600 IN MX 10 {MX_HOST}."
    assert by_purpose["spf"].value == f"v=spf1 a:{MX_HOST} -all"
    assert by_purpose["dmarc"].name == "_dmarc.a.example"
    assert by_purpose["dmarc"].value == DMARC_POLICY
    dkim = by_purpose["dkim"]
    assert dkim.name == f"{dns.dkim_selector}._domainkey.a.example"
    public_b64 = dkim.value.removeprefix("v=DKIM1; k=rsa; p=")
    public = serialization.load_der_public_key(base64.b64decode(public_b64))
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    # A TXT value longer than 255 bytes is split into character-strings on the zone line.
    assert dkim.zone_line().count('" "') >= 1
    # The private half is in the secret store, sealed, and matches the published key.
    (key,) = stores.metadata.active_dkim_keys("a.example")
    vault = SecretVault(stores.metadata, KEYRING)
    assert vault.get(TenantScope(tenants.a.id), key.secret_id).purpose is SecretPurpose.DKIM_KEY
    pem = vault.reveal(TenantScope(tenants.a.id), key.secret_id)
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.public_key().public_numbers() == public.public_numbers()
    # The key is made once: a user of the tenant reads the same records.
    again = dns_app.dns.records(reader(tenants.a.id, tenants.alice.id), "a.example")
    assert again == dns
    assert len(vault.list(TenantScope(tenants.a.id), SecretPurpose.DKIM_KEY)) == 1


def test_another_tenants_domain_is_not_found(dns_app, stores, tenants):
    for call in (dns_app.dns.records, dns_app.dns.check):
        with pytest.raises(NotFound):
            call(reader(tenants.b.id), "a.example")
        with pytest.raises(NotFound):
            call(reader(tenants.a.id), "missing.example")
    assert stores.metadata.active_dkim_keys("a.example") == []  # nothing was made for B


def test_the_check_says_ok_missing_different_or_error(dns_app, zone, tenants):
    principal = reader(tenants.a.id)
    dns = dns_app.dns.records(principal, "a.example")
    records = {record.purpose: record for record in dns.records}
    assert {c.record.purpose: c.status for c in dns_app.dns.check(principal, "a.example")} == {
        "mx": "missing",
        "spf": "missing",
        "dkim": "missing",
        "dmarc": "missing",
    }
    zone.records["a.example"] = {
        "MX": [(10, MX_HOST)],
        # Another TXT record at the name (a site verification) is not an SPF record.
        "TXT": ["google-site-verification=abc", "v=spf1 include:elsewhere.test ~all"],
    }
    zone.records[records["dkim"].name] = {"TXT": [records["dkim"].value]}
    zone.records["_dmarc.a.example"] = {"TXT": ["v=DMARC1;  p=quarantine; adkim=r;aspf=r"]}
    checks = {c.record.purpose: c for c in dns_app.dns.check(principal, "a.example")}
    assert {purpose: c.status for purpose, c in checks.items()} == {
        "mx": "ok",
        "spf": "different",
        "dkim": "ok",
        "dmarc": "ok",
    }
    assert checks["spf"].found == ("v=spf1 include:elsewhere.test ~all",)
    zone.records["a.example"] = {"MX": [(10, "mx.elsewhere.test")]}
    checks = {c.record.purpose: c for c in dns_app.dns.check(principal, "a.example")}
    assert (checks["mx"].status, checks["mx"].found) == ("different", ("10 mx.elsewhere.test",))


def test_a_failed_lookup_is_an_error_not_missing(dns_app, tenants):
    checks = {c.record.purpose: c for c in dns_app.dns.check(reader(tenants.b.id), "b.example")}
    assert checks["dmarc"].status == "error" and checks["dmarc"].detail
    assert checks["mx"].status == "missing"
