"""Build the REST API app from settings and opened stores (the caller owns both).

The app knows nothing of how it is served: ``serve/`` wraps it in a Ray Serve
ingress, tests call it in-process. It does not close the stores it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mairust import __version__
from mairust.api.body_limit import BodyLimitMiddleware
from mairust.api.metrics import ApiMetrics, RequestMetricsMiddleware
from mairust.api.problems import install_problem_handlers, use_problem_media_type
from mairust.api.routes import api_router
from mairust.config import Settings
from mairust.net.address_guard import AddressPolicy
from mairust.secrets.keyring import Keyring
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.services.application import Application
from mairust.services.webhooks import UrlRules
from mairust.storage.stores import Stores

TITLE = "MaiRust API"
DESCRIPTION = """\
Manage a MaiRust mail platform: read, search, tag and move messages in mailboxes,
manage local domains and mailbox users, and watch the delivery queue.

Authenticate with `Authorization: Bearer <token>`. Every error is an RFC 9457
`application/problem+json` document.
"""
# The API takes JSON documents only (messages arrive over SMTP): 1 MiB is ample.
MAX_REQUEST_BODY = 1024 * 1024

TAGS: list[dict[str, Any]] = [
    {"name": "messages", "description": "Messages as they sit in mailboxes."},
    {"name": "search", "description": "Full-text search over messages."},
    {"name": "directory", "description": "Local domains, their tenants and mailbox users."},
    {"name": "queue", "description": "The delivery queue (operator only)."},
    {"name": "access", "description": "API tokens, log-in and the audit log."},
    {"name": "operations", "description": "Health and metrics, without authentication."},
    {"name": "events", "description": "The tenant's event log and message trace."},
    {"name": "webhooks", "description": "Outgoing event webhooks and their deliveries."},
]


def create_app(
    settings: Settings,
    stores: Stores,
    token_keys: Sequence[bytes],
    keyring: Keyring | None = None,
) -> FastAPI:
    """The API app over ``stores``. The operator's ``settings.api.admin_token`` is the
    platform admin; ``token_keys`` key the digests of every other API token (current first).
    ``keyring`` seals tenants' secrets (webhook signing secrets); by default the one the
    settings name (:func:`~mairust.secrets.master_key.load_keyring`)."""
    app = FastAPI(
        title=TITLE,
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
    )
    app.state.settings = settings
    app.state.stores = stores
    vault = SecretVault(stores.metadata, keyring or load_keyring(settings))
    webhook_urls = UrlRules(
        AddressPolicy.allowing(settings.webhooks.allow_networks),
        allow_http=settings.webhooks.allow_http,
    )
    app.state.application = Application.over(
        stores, token_keys, vault=vault, webhook_urls=webhook_urls
    )
    app.state.metrics = ApiMetrics(stores.metadata)
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_REQUEST_BODY)
    # Added last so it is outermost: it also counts the 500s the problem middleware writes.
    app.add_middleware(RequestMetricsMiddleware, metrics=app.state.metrics)
    app.include_router(api_router)
    app.openapi = lambda: _openapi_schema(app)  # type: ignore[method-assign]
    return app


def _openapi_schema(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        app.openapi_schema = use_problem_media_type(schema)
    return app.openapi_schema
