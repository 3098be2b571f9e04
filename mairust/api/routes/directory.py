"""The directory: local domains (each owned by a tenant) and mailbox users.

Listing goes through the caller's scope; creating is for the operator only.
Passwords are hashed here (scrypt) and never returned.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from mairust.api.deps import AdminScope, CurrentScope, DirectoryDep
from mairust.api.problems import problem_responses
from mairust.api.schemas import DomainCreate, DomainList, DomainOut, UserCreate, UserList, UserOut
from mairust.errors import Conflict
from mairust.model.address import normalize_address, normalize_domain
from mairust.model.directory import Tenant
from mairust.passwords import hash_password
from mairust.storage.protocols import DirectoryStore

router = APIRouter(prefix="/api/v1", tags=["directory"], responses=problem_responses(401, 503))


@router.get("/domains", response_model=DomainList, summary="List local domains")
def list_domains(scope: CurrentScope, directory: DirectoryDep) -> DomainList:
    """The local domains in the caller's scope, with their owning tenant."""
    names = {tenant.id: tenant.name for tenant in directory.list_tenants()}
    domains = directory.list_domains(scope)
    return DomainList(items=[DomainOut.from_domain(d, names.get(d.tenant_id, "")) for d in domains])


@router.post(
    "/domains",
    response_model=DomainOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a local domain",
    responses=problem_responses(403, 409, 422),
)
def create_domain(body: DomainCreate, _: AdminScope, directory: DirectoryDep) -> DomainOut:
    """Makes `name` a local domain of tenant `tenant` (default: a tenant named like the
    domain), creating the tenant if it does not exist. 409 if the domain exists."""
    name = normalize_domain(body.name)
    # Refuse before creating a tenant, so a duplicate changes nothing (invariant 7).
    if directory.get_domain(name) is not None:
        raise Conflict(f"domain {name!r} exists already")
    tenant = _tenant_named(directory, body.tenant or name)
    domain = directory.add_domain(name, tenant.id)
    return DomainOut.from_domain(domain, tenant.name)


def _tenant_named(directory: DirectoryStore, name: str) -> Tenant:
    existing = directory.get_tenant_by_name(name)
    if existing is not None:
        return existing
    try:
        return directory.create_tenant(name)
    except Conflict:
        # Another request created it between our lookup and insert: use theirs.
        raced = directory.get_tenant_by_name(name)
        if raced is None:
            raise
        return raced


@router.get("/users", response_model=UserList, summary="List mailbox users")
def list_users(scope: CurrentScope, directory: DirectoryDep) -> UserList:
    """The mailboxes in the caller's scope; password hashes are never shown."""
    return UserList(items=[UserOut.from_mailbox(m) for m in directory.list_mailboxes(scope)])


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a mailbox user",
    responses=problem_responses(403, 404, 409, 422),
)
def create_user(body: UserCreate, _: AdminScope, directory: DirectoryDep) -> UserOut:
    """Creates the mailbox `address` in the tenant owning its domain. 404 if the domain
    is not local, 409 if the address exists. With `password` the user may SMTP AUTH."""
    address = normalize_address(body.address)
    password_hash = (
        hash_password(body.password.get_secret_value()) if body.password is not None else None
    )
    return UserOut.from_mailbox(directory.add_mailbox(address, password_hash=password_hash))
