"""The directory: tenants, local domains (each owned by a tenant) and mailbox users.

Routes parse and present; :class:`~mairust.services.directory.DirectoryService` decides
who may create and see what. Passwords are hashed there and never returned.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from mairust.api.deps import AppDep, PlatformAdmin, Reader, TenantAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas import DomainCreate, DomainList, DomainOut, UserCreate, UserList, UserOut
from mairust.api.schemas_access import TenantCreate, TenantList, TenantOut, TenantUpdate
from mairust.model.principal import Role
from mairust.services.directory import NewUser

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1",
    tags=["directory"],
    responses=problem_responses(401, 403, 503),
)


@router.get("/tenants", response_model=TenantList, summary="List tenants")
def list_tenants(principal: Reader, application: AppDep) -> TenantList:
    """Every tenant for the platform admin; one's own tenant otherwise."""
    tenants = application.directory.list_tenants(principal)
    return TenantList(items=[TenantOut.from_tenant(t) for t in tenants])


@router.post(
    "/tenants",
    response_model=TenantOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a tenant",
    responses=problem_responses(409, 422),
)
def create_tenant(body: TenantCreate, principal: PlatformAdmin, application: AppDep) -> TenantOut:
    """A new tenant without domains (platform admin only). 409 if the name is taken, 422
    for a home region the regions config does not name."""
    tenant = application.directory.create_tenant(principal, body.name, body.home_region)
    return TenantOut.from_tenant(tenant)


@router.patch(
    "/tenants/{tenant}",
    response_model=TenantOut,
    summary="Set a tenant's home region",
    responses=problem_responses(404, 409, 422),
)
def update_tenant(
    tenant: Annotated[str, Path(max_length=200, description="The tenant's id or name.")],
    body: TenantUpdate,
    principal: PlatformAdmin,
    application: AppDep,
) -> TenantOut:
    """Names the region whose stores hold the tenant's mail (`null`: this region), as
    this region routes its mail and API calls (platform admin only). No mail moves: 409
    when the tenant has mailboxes here and the new home is another region; 422 for a
    region the regions config does not name."""
    updated = application.directory.set_tenant_home(principal, tenant, body.home_region)
    return TenantOut.from_tenant(updated)


@router.get("/domains", response_model=DomainList, summary="List local domains")
def list_domains(principal: Reader, application: AppDep) -> DomainList:
    """The local domains in the caller's scope, with their owning tenant."""
    names = application.directory.tenant_names()
    domains = application.directory.list_domains(principal)
    return DomainList(items=[DomainOut.from_domain(d, names.get(d.tenant_id, "")) for d in domains])


@router.post(
    "/domains",
    response_model=DomainOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a local domain",
    responses=problem_responses(409, 422),
)
def create_domain(body: DomainCreate, principal: PlatformAdmin, application: AppDep) -> DomainOut:
    """Makes `name` a local domain of tenant `tenant` (default: a tenant named like the
    domain), creating the tenant if it does not exist. 409 if the domain exists."""
    domain, tenant = application.directory.create_domain(principal, body.name, body.tenant)
    return DomainOut.from_domain(domain, tenant.name)


@router.get("/users", response_model=UserList, summary="List mailbox users")
def list_users(principal: Reader, application: AppDep) -> UserList:
    """The mailboxes in the caller's scope (a user sees only their own); password hashes
    are never shown."""
    return UserList(
        items=[UserOut.from_mailbox(m) for m in application.directory.list_users(principal)]
    )


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a mailbox user",
    responses=problem_responses(404, 409, 422),
)
def create_user(body: UserCreate, principal: TenantAdmin, application: AppDep) -> UserOut:
    """Creates the mailbox `address` in the tenant owning its domain (a tenant admin: only
    in their own tenant's domains). 404 if the domain is not local (or not the caller's),
    409 if the address exists. With `password` the user may SMTP AUTH and log in."""
    new = NewUser(
        address=body.address,
        password=body.password.get_secret_value() if body.password is not None else None,
        role=Role(body.role),
    )
    return UserOut.from_mailbox(application.directory.create_user(principal, new))
