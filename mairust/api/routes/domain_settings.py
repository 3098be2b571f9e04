"""A local domain's aliases, catch-all and DNS records, under ``/domains/{domain}``.

Routes parse and present; :class:`~mairust.services.directory.DirectoryService` and
:class:`~mairust.services.domain_dns.DomainDnsService` decide. Another tenant's domain
answers 404, like a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from mairust.api.deps import AppDep, Reader, TenantAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_domains import (
    AliasCreate,
    AliasList,
    AliasOut,
    CatchAllOut,
    CatchAllSet,
    DnsCheckList,
    DnsCheckOut,
    DomainDnsOut,
)

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/domains/{domain}",
    tags=["directory"],
    responses=problem_responses(401, 403, 404, 503),
)

DomainName = Annotated[str, Path(min_length=1, max_length=253, description="A local domain.")]
AliasAddress = Annotated[str, Path(min_length=3, max_length=254, description="The alias.")]


@router.get("/aliases", response_model=AliasList, summary="List a domain's aliases")
def list_aliases(domain: DomainName, principal: TenantAdmin, application: AppDep) -> AliasList:
    """The aliases of `domain` with their target mailboxes (tenant admins, own domains)."""
    aliases = application.directory.list_aliases(principal, domain)
    return AliasList(items=[AliasOut.from_alias(a) for a in aliases])


@router.post(
    "/aliases",
    response_model=AliasOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create an alias",
    responses=problem_responses(409, 422),
)
def create_alias(
    domain: DomainName, body: AliasCreate, principal: TenantAdmin, application: AppDep
) -> AliasOut:
    """Mail to `address` (of `domain`) is delivered once to each target mailbox (of the
    domain's tenant). A mailbox of the same address wins over the alias; 409 if one
    exists already, or the alias does; 404 for a target outside the tenant."""
    alias = application.directory.create_alias(principal, domain, body.address, body.targets)
    return AliasOut.from_alias(alias)


@router.delete(
    "/aliases/{address}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete an alias",
)
def delete_alias(
    domain: DomainName, address: AliasAddress, principal: TenantAdmin, application: AppDep
) -> Response:
    """Mail to `address` is refused from now on (or taken by the catch-all)."""
    application.directory.delete_alias(principal, domain, address)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/catch-all", response_model=CatchAllOut, summary="Read a domain's catch-all")
def get_catchall(domain: DomainName, principal: TenantAdmin, application: AppDep) -> CatchAllOut:
    """The mailbox that takes mail for unknown addresses of `domain`; 404 if none."""
    return CatchAllOut.from_catchall(application.directory.get_catchall(principal, domain))


@router.put(
    "/catch-all",
    response_model=CatchAllOut,
    summary="Set a domain's catch-all",
    responses=problem_responses(422),
)
def set_catchall(
    domain: DomainName, body: CatchAllSet, principal: TenantAdmin, application: AppDep
) -> CatchAllOut:
    """Mail for addresses of `domain` that are neither a mailbox nor an alias goes to
    `mailbox` (of the domain's tenant)."""
    catchall = application.directory.set_catchall(principal, domain, body.mailbox)
    return CatchAllOut.from_catchall(catchall)


@router.delete(
    "/catch-all",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Clear a domain's catch-all",
)
def clear_catchall(domain: DomainName, principal: TenantAdmin, application: AppDep) -> Response:
    """Mail for unknown addresses of `domain` is refused from now on (550 5.1.1)."""
    application.directory.clear_catchall(principal, domain)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/dns", response_model=DomainDnsOut, summary="DNS records to publish")
def dns_records(domain: DomainName, principal: Reader, application: AppDep) -> DomainDnsOut:
    """MX, SPF, DKIM (one record per key: the active ones and those retired within the
    rotation's grace; an RSA key is made on the first request if the domain has none; a
    private half is never shown) and DMARC, as structured fields and as zone-file lines."""
    return DomainDnsOut.from_dns(application.dns.records(principal, domain))


@router.get("/dns-check", response_model=DnsCheckList, summary="Check the published DNS")
def dns_check(domain: DomainName, principal: Reader, application: AppDep) -> DnsCheckList:
    """Each record looked up through the platform's resolver: `ok`, `missing`,
    `different` (with what was found) or `error` (the lookup failed)."""
    checks = application.dns.check(principal, domain)
    return DnsCheckList(domain=domain.lower(), items=[DnsCheckOut.from_check(c) for c in checks])
