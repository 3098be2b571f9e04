"""A sending domain's DKIM keys, under ``/domains/{domain}/dkim-keys``: made, rotated and
listed (public parts and the record to publish; a private key is never in an answer).

Routes parse and present; :class:`~mairust.services.dkim_keys.DkimKeyService` decides.
Another tenant's domain answers 404, like a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, status

from mairust.api.deps import AppDep, Reader, TenantAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_dkim import DkimKeyCreate, DkimKeyList, DkimKeyOut, DkimKeyRotate

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/domains/{domain}/dkim-keys",
    tags=["directory"],
    responses=problem_responses(401, 403, 404, 503),
)

DomainName = Annotated[str, Path(min_length=1, max_length=253, description="A local domain.")]


@router.get("", response_model=DkimKeyList, summary="List a domain's DKIM keys")
def list_dkim_keys(domain: DomainName, principal: Reader, application: AppDep) -> DkimKeyList:
    """Active and retired keys of `domain`, oldest first (tenant admins, own domains)."""
    keys = application.dkim.list(principal, domain)
    return DkimKeyList(items=[DkimKeyOut.from_key(k) for k in keys])


@router.post(
    "",
    response_model=DkimKeyOut,
    status_code=status.HTTP_201_CREATED,
    summary="Make a DKIM key",
    responses=problem_responses(409, 422),
)
def create_dkim_key(
    domain: DomainName,
    principal: TenantAdmin,
    application: AppDep,
    body: Annotated[DkimKeyCreate | None, Body()] = None,
) -> DkimKeyOut:
    """A new active key (default rsa2048) whose private half is sealed in the secret store;
    outbound mail of `domain` is signed with it from now on. Publish `dns_record` at
    `dns_name`. 409 if the domain has an active key of that type (rotate it instead) or
    the selector is taken."""
    wanted = body or DkimKeyCreate()
    key = application.dkim.keygen(principal, domain, wanted.algorithm, wanted.selector)
    return DkimKeyOut.from_key(key)


@router.post(
    "/rotate",
    response_model=DkimKeyList,
    summary="Rotate a domain's DKIM keys",
    responses=problem_responses(409, 422),
)
def rotate_dkim_keys(
    domain: DomainName,
    principal: TenantAdmin,
    application: AppDep,
    body: Annotated[DkimKeyRotate | None, Body()] = None,
) -> DkimKeyList:
    """Each active key (or the one of `algorithm`) replaced by a new one under a new
    selector; the old one is retired and stays in the published DNS records for a grace
    period so mail already signed still verifies. The new keys; 409 if there is none."""
    algorithm = body.algorithm if body is not None else None
    keys = application.dkim.rotate(principal, domain, algorithm)
    return DkimKeyList(items=[DkimKeyOut.from_key(k) for k in keys])
