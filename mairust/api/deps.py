"""FastAPI dependencies of the routes, as ``Annotated`` aliases.

Routes ask for what they need by type (``EntriesDep``, ``CurrentScope``, ...);
the app state set up in :func:`mairust.api.app.create_app` provides it. The metadata
store is offered by role (``DirectoryDep``, ``QueueDep``, ``EntriesDep``), so a route's
signature says which part of it the route touches; ``MetadataDep`` is the whole store.
Tests swap any of these with ``app.dependency_overrides``.

Authentication turns a bearer token into a :class:`Scope`. Today the only token is
the operator's admin token (``PLATFORM``); tenant tokens slot into
:func:`current_scope` later by returning ``TenantScope(...)``, and every route that
reads tenant data already passes the scope to the stores.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mairust.api.metrics import ApiMetrics
from mairust.api.problems import FORBIDDEN, UNAUTHORIZED, ProblemError
from mairust.config import Settings
from mairust.errors import NotFound
from mairust.model.address import normalize_address
from mairust.model.directory import Mailbox
from mairust.model.scope import PLATFORM, PlatformScope, Scope, TenantScope
from mairust.storage.protocols import (
    BlobStore,
    DirectoryStore,
    EntryStore,
    MetadataStore,
    QueueStore,
    SearchIndex,
)
from mairust.storage.stores import Stores

_bearer = HTTPBearer(
    auto_error=False,
    description="The operator's admin token (`api.admin_token` / `MAIRUST_ADMIN_TOKEN`).",
)


# Dependencies that do no I/O are async: FastAPI runs sync ones in the thread pool.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_stores(request: Request) -> Stores:
    stores: Stores = request.app.state.stores
    return stores


async def get_api_metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoresDep = Annotated[Stores, Depends(get_stores)]
ApiMetricsDep = Annotated[ApiMetrics, Depends(get_api_metrics)]


async def get_metadata(stores: StoresDep) -> MetadataStore:
    return stores.metadata


async def get_directory(stores: StoresDep) -> DirectoryStore:
    return stores.metadata


async def get_queue(stores: StoresDep) -> QueueStore:
    return stores.metadata


async def get_entries(stores: StoresDep) -> EntryStore:
    return stores.metadata


async def get_blobs(stores: StoresDep) -> BlobStore:
    return stores.blobs


async def get_search(stores: StoresDep) -> SearchIndex:
    return stores.search


MetadataDep = Annotated[MetadataStore, Depends(get_metadata)]
DirectoryDep = Annotated[DirectoryStore, Depends(get_directory)]
QueueDep = Annotated[QueueStore, Depends(get_queue)]
EntriesDep = Annotated[EntryStore, Depends(get_entries)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]
SearchDep = Annotated[SearchIndex, Depends(get_search)]


async def current_scope(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Scope:
    """The scope of the caller's bearer token; 401 if missing or unknown."""
    if credentials is None:
        raise ProblemError(
            UNAUTHORIZED, "Send 'Authorization: Bearer <token>'.", {"WWW-Authenticate": "Bearer"}
        )
    admin_token = settings.api.admin_token
    # Constant-time comparison; with no admin token configured no token is valid.
    if admin_token is not None and hmac.compare_digest(
        credentials.credentials.encode(), admin_token.get_secret_value().encode()
    ):
        return PLATFORM
    raise ProblemError(
        UNAUTHORIZED,
        "The bearer token is not valid.",
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


CurrentScope = Annotated[Scope, Depends(current_scope)]


async def require_admin(scope: CurrentScope) -> Scope:
    """The operator scope; a tenant token gets 403 on operator-only routes."""
    if not isinstance(scope, PlatformScope):
        raise ProblemError(FORBIDDEN, "This operation needs the operator's admin token.")
    return scope


AdminScope = Annotated[Scope, Depends(require_admin)]


def mailbox_filter(
    scope: CurrentScope,
    directory: DirectoryDep,
    mailbox: Annotated[
        str | None,
        Query(
            min_length=3,
            max_length=320,
            description="Only this mailbox (an address); all mailboxes in scope if omitted.",
            examples=["jane@example.com"],
        ),
    ] = None,
) -> Mailbox | None:
    """The mailbox named by the ``mailbox`` query parameter, resolved inside the scope.

    A mailbox of another tenant is reported exactly like a missing one (invariant 5).
    Sync on purpose: the store call blocks, so FastAPI runs it in the thread pool.
    """
    if mailbox is None:
        return None
    found = directory.find_mailbox(normalize_address(mailbox))
    if found is None or (isinstance(scope, TenantScope) and found.tenant_id != scope.tenant_id):
        raise NotFound(f"no mailbox {mailbox!r}")
    return found


MailboxFilter = Annotated[Mailbox | None, Depends(mailbox_filter)]
