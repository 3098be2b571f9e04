"""A tenant's webhook endpoints: create (the signing secret shown once), list, read,
change, delete, and the deliveries of each.

The signing secret (``whsec_…``) is generated here, sealed in the secret vault under the
endpoint's tenant, and returned in the creation answer only; the endpoint row names it
by id. A URL must be ``https`` (``http`` only where the operator allows it) and its host
must not be, nor resolve to, an address the outgoing-HTTP policy refuses (loopback,
private, link-local, CGNAT, metadata, unless allowed): checked here when the URL is set,
and again by the client on every delivery (DNS may answer differently later).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from mairust.auth.dns import DnsError, NxDomain, Resolver
from mairust.errors import InvalidInput, NotFound
from mairust.events import WEBHOOK_EVENT_TYPES
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import PlatformScope, TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.model.webhooks import WebhookDelivery, WebhookEndpoint
from mairust.net.address_guard import AddressPolicy, IPAddress
from mairust.secrets.vault import SecretVault
from mairust.services.access import require
from mairust.services.audit import AuditTrail
from mairust.storage.protocols import DirectoryStore, WebhookEndpoints, WebhookOutbox
from mairust.webhooks.signing import generate_secret

MAX_URL_LENGTH = 2000
# Resolves a host name to its addresses (blocking; a failure raises OSError).
Resolve = Callable[[str], Sequence[IPAddress]]


def system_resolve(host: str) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list({ipaddress.ip_address(str(info[4][0]).split("%")[0]): None for info in infos})


def records_resolve(resolver: Resolver) -> Resolve:
    """A :data:`Resolve` over the configured DNS resolver (``[dns] nameservers``): A, then
    AAAA records; a failure is an OSError, as the system resolver's would be."""

    def resolve(host: str) -> list[IPAddress]:
        addresses: list[IPAddress] = []
        for rdtype in ("A", "AAAA"):
            try:
                records = resolver.lookup(host, rdtype)
            except NxDomain as error:
                raise OSError(f"{host}: no such name") from error
            except DnsError:
                continue  # the other family may still answer
            addresses += [ipaddress.ip_address(record) for record in records]
        if not addresses:
            raise OSError(f"{host}: no A or AAAA records")
        return addresses

    return resolve


@dataclass(frozen=True, slots=True)
class UrlRules:
    """Which webhook URLs are accepted: the address policy of the outgoing client."""

    policy: AddressPolicy = field(default_factory=AddressPolicy)
    allow_http: bool = False
    resolve: Resolve = system_resolve

    def check(self, url: str) -> str:
        """``url`` if acceptable; InvalidInput saying why not."""
        if len(url) > MAX_URL_LENGTH or any(ord(c) < 33 or ord(c) == 127 for c in url):
            raise InvalidInput("the url is too long or holds spaces or control characters")
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - a bad port raises here
        except ValueError as error:
            raise InvalidInput(f"not a valid url: {error}") from None
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes:
            raise InvalidInput(f"the url must use {' or '.join(schemes)}")
        if not host or parts.username is not None or parts.password is not None:
            raise InvalidInput("the url needs a host, and no user or password in it")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            try:
                addresses = list(self.resolve(host))
            except (OSError, UnicodeError) as error:
                raise InvalidInput(f"the url's host does not resolve: {error}") from None
        else:
            addresses = [literal]
        for address in addresses:
            reason = self.policy.refusal(address)
            if reason is not None:
                raise InvalidInput(f"the url's host is refused: {address} is {reason}")
        return url


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    """A new endpoint and the one copy of its signing secret the caller will ever see."""

    endpoint: WebhookEndpoint
    secret: str


class _WebhookStore(WebhookEndpoints, WebhookOutbox, DirectoryStore, Protocol):
    """What the service uses (the metadata store is all of it)."""


def _event_types(types: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(types) - WEBHOOK_EVENT_TYPES)
    if unknown:
        known = ", ".join(sorted(WEBHOOK_EVENT_TYPES))
        raise InvalidInput(f"unknown event types {', '.join(unknown)}; known: {known}")
    return tuple(dict.fromkeys(str(t) for t in types))


class WebhookService:
    def __init__(
        self,
        store: _WebhookStore,
        vault: SecretVault | None,
        audit: AuditTrail,
        rules: UrlRules,
    ) -> None:
        """``vault`` None: this process has no secret key, and creation says so."""
        self._store = store
        self._vault = vault
        self._audit = audit
        self._rules = rules

    def create(
        self,
        principal: Principal,
        url: str,
        event_types: Sequence[str] = (),
        enabled: bool = True,
        tenant_id: str | None = None,
    ) -> CreatedEndpoint:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        owner = self._owner(principal, tenant_id)
        checked_url = self._rules.check(url)
        types = _event_types(event_types)
        if self._vault is None:
            raise InvalidInput("this platform has no secret key configured (secrets.key)")
        secret = generate_secret()
        ref = self._vault.create(owner, SecretPurpose.WEBHOOK_SIGNING, secret.encode())
        try:
            endpoint = self._store.add_webhook_endpoint(
                owner.tenant_id, checked_url, ref.id, types, enabled
            )
        except Exception:
            self._vault.delete(owner, ref.id)  # no orphan secret for an endpoint never made
            raise
        self._audit.record(
            principal,
            "webhook.create",
            endpoint.id,
            owner.tenant_id,
            {"url": checked_url, "event_types": list(types), "enabled": enabled},
        )
        return CreatedEndpoint(endpoint, secret)

    def list_endpoints(self, principal: Principal) -> list[WebhookEndpoint]:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        return self._store.list_webhook_endpoints(principal.scope)

    def get(self, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        return self._store.get_webhook_endpoint(principal.scope, endpoint_id)

    def update(
        self,
        principal: Principal,
        endpoint_id: str,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        # Found first, through the scope: another tenant's id is NotFound before any check.
        self._store.get_webhook_endpoint(principal.scope, endpoint_id)
        checked_url = self._rules.check(url) if url is not None else None
        types = _event_types(event_types) if event_types is not None else None
        endpoint = self._store.update_webhook_endpoint(
            principal.scope, endpoint_id, url=checked_url, event_types=types, enabled=enabled
        )
        changes = {
            key: value
            for key, value in (("url", checked_url), ("event_types", types), ("enabled", enabled))
            if value is not None
        }
        self._audit.record(
            principal, "webhook.update", endpoint.id, endpoint.tenant_id, {"changed": changes}
        )
        return endpoint

    def delete(self, principal: Principal, endpoint_id: str) -> None:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        endpoint = self._store.get_webhook_endpoint(principal.scope, endpoint_id)
        self._store.delete_webhook_endpoint(principal.scope, endpoint_id)
        if self._vault is not None:
            # Already gone: nothing left to protect.
            with contextlib.suppress(NotFound):
                self._vault.delete(TenantScope(endpoint.tenant_id), endpoint.secret_id)
        self._audit.record(principal, "webhook.delete", endpoint.id, endpoint.tenant_id)

    def deliveries(
        self, principal: Principal, endpoint_id: str, limit: int = 100
    ) -> list[WebhookDelivery]:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        self._store.get_webhook_endpoint(principal.scope, endpoint_id)
        return self._store.list_webhook_deliveries(
            principal.scope, endpoint_id=endpoint_id, limit=limit
        )

    def _owner(self, principal: Principal, tenant_id: str | None) -> TenantScope:
        """The tenant the new endpoint belongs to: the caller's own, or (platform admin)
        the one named; another tenant named by a tenant admin is NotFound."""
        match principal.scope:
            case PlatformScope():
                if tenant_id is None:
                    raise InvalidInput("the platform admin names the tenant (tenant_id)")
                if self._store.get_tenant(tenant_id) is None:
                    raise NotFound(f"no tenant {tenant_id!r}")
                return TenantScope(tenant_id)
            case TenantScope(tenant_id=own):
                if tenant_id not in (None, own):
                    raise NotFound(f"no tenant {tenant_id!r}")
                return TenantScope(own)
