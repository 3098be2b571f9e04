"""Build the REST API app from settings and opened stores (the caller owns both).

The app knows nothing of how it is served: ``serve/`` wraps it in a Ray Serve
ingress, tests call it in-process. It does not close the stores it is given. It also
serves the admin UI's build at ``/`` (``mairust.api.web_ui``), after every API route.

It owns one :class:`~mairust.spool.Spool` for ``POST /api/v1/send``, started and stopped
with the app's lifespan (Serve runs the lifespan in each replica): a send is answered
only after its spool commit, exactly like SMTP's 250.
"""

from __future__ import annotations

import os
import platform
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mairust import __version__
from mairust.api.body_limit import BodyLimitMiddleware, document_body_limit
from mairust.api.graphql import graphql_router
from mairust.api.metrics import ApiMetrics, RequestMetricsMiddleware
from mairust.api.problems import install_problem_handlers, use_problem_media_type
from mairust.api.rate_limit import RateLimits, document_rate_limits
from mairust.api.regions import HomeRedirects
from mairust.api.route_threads import install_route_threads
from mairust.api.routes import api_router
from mairust.api.web_ui import web_ui_route
from mairust.auth.dns_resolver import CachingResolver
from mairust.config import Settings
from mairust.hooks.deployment import plugin_packages
from mairust.hooks.manifest import TransportKind
from mairust.hooks.runtime import TransportFactory
from mairust.net.address_guard import AddressPolicy
from mairust.outbound.forwarding import ArcKeys, forwarder_from_settings
from mairust.regions import regions_of
from mairust.secrets.keyring import Keyring
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.services.application import Application
from mairust.services.hook_runtimes import platform_hook_runtime
from mairust.services.policy import PolicyDefaults
from mairust.services.sending import SendPolicy
from mairust.services.webhooks import Resolve, UrlRules, records_resolve, system_resolve
from mairust.spool import CommitListener, Spool
from mairust.storage.stores import Stores
from mairust.telemetry import PlatformMetrics, TelemetrySnapshot, TelemetrySource

TITLE = "MaiRust API"
DESCRIPTION = """\
Manage a MaiRust mail platform: read, search, tag and move messages in mailboxes,
manage local domains and mailbox users, and watch the delivery queue.

Authenticate with `Authorization: Bearer <token>`. Every error is an RFC 9457
`application/problem+json` document.

Limits: a request body may be at most 1 MiB (1,048,576 bytes); a larger one is answered
`413` on every route. Each token may make `api.rate_limit_per_second` requests a second
(bursts up to `api.rate_limit_burst`), and each client address
`api.login_attempts_per_minute` password log-ins a minute; over either the answer is
`429` with `Retry-After`. Rate limits are counted by each API replica on its own.
"""
# The API takes small JSON documents (messages arrive over SMTP): 1 MiB is ample...
MAX_REQUEST_BODY = 1024 * 1024
# ...but for POST /send, whose attachments arrive base64-encoded (4/3 of their size),
# with room for the JSON around them (addresses, headers, escapes in the bodies).
SEND_PATH = "/api/v1/send"
SEND_JSON_ROOM = 1024 * 1024


def send_body_limit(max_send_size: int) -> int:
    """The request body cap of ``POST /api/v1/send`` for ``api.max_send_size``."""
    return max_send_size * 4 // 3 + SEND_JSON_ROOM


TAGS: list[dict[str, Any]] = [
    {"name": "messages", "description": "Messages as they sit in mailboxes."},
    {"name": "search", "description": "Full-text search over messages."},
    {"name": "directory", "description": "Local domains, their tenants and mailbox users."},
    {"name": "queue", "description": "The delivery queue (operator only)."},
    {
        "name": "outbound",
        "description": "The outbound queue: remote recipients, their attempts, operations.",
    },
    {"name": "access", "description": "API tokens, log-in and the audit log."},
    {"name": "operations", "description": "Health and metrics, without authentication."},
    {"name": "sending", "description": "Send a message from a local address."},
    {"name": "events", "description": "The tenant's event log and message trace."},
    {"name": "webhooks", "description": "Outgoing event webhooks and their deliveries."},
    {"name": "policy", "description": "A domain's own policy and its routing rules."},
    {"name": "hooks", "description": "Installed plugins and their hook bindings (operator)."},
]


def create_app(
    settings: Settings,
    stores: Stores,
    token_keys: Sequence[bytes],
    commit_listener: CommitListener | None = None,
    keyring: Keyring | None = None,
    hook_transports: Mapping[TransportKind, TransportFactory] | None = None,
    telemetry: TelemetrySource | None = None,
) -> FastAPI:
    """The API app over ``stores``. The operator's ``settings.api.admin_token`` is the
    platform admin; ``token_keys`` key the digests of every other API token (current first).
    ``keyring`` seals secrets (the domains' DKIM keys); by default the configured one.
    ``commit_listener`` hears of each spool commit of a sent message (e.g. to wake the
    queue); without one, the dispatcher finds the rows at its next poll.
    ``hook_transports`` reach plugins beyond ``http`` in dry runs (``serve``: a Serve handle).
    Serve plugins' code is kept under the data directory. ``telemetry`` reads the
    processes' own counters (front-ends, workers, delivery loops) for ``/metrics`` and
    ``/api/v1/stats`` (None: only what the stores say)."""
    # This replica's own counters (its spool: what POST /send accepts) beside the others'.
    own = PlatformMetrics()
    spool = Spool(
        stores.metadata,
        stores.blobs,
        max_batch=settings.spool.max_batch,
        listener=commit_listener,
        telemetry=own,
    )
    telemetry = with_own_telemetry(own, telemetry)
    keyring = keyring if keyring is not None else load_keyring(settings)
    # Dry runs of hook points reach plugins as the SMTP edge does.
    hooks = platform_hook_runtime(settings, stores.metadata, keyring, "api", hook_transports)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        route_threads = install_route_threads(settings.api.worker_threads)
        await spool.start()
        try:
            yield
        finally:
            # Commits already handed in finish first: their senders are promised an answer.
            await spool.stop()
            await hooks.aclose()  # its unrecorded calls, breaker reports, HTTP client
            route_threads.shutdown(wait=False)

    app = FastAPI(
        title=TITLE,
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.stores = stores
    app.state.spool = spool
    regions = regions_of(settings.regions.file, settings.regions.local)
    app.state.home_redirects = HomeRedirects(regions, stores.metadata)
    app.state.application = Application.over(
        stores,
        token_keys,
        default_quota_bytes=settings.mailbox.default_quota_bytes,
        spool=spool,
        send_policy=SendPolicy.from_settings(settings),
        mailbox=settings.mailbox,
        # Seals tenants' secrets: the domains' DKIM keys, webhook signing secrets.
        keyring=keyring,
        # Not cached: a tenant who has just published a record checks again at once.
        resolver=CachingResolver.from_settings(settings.dns, cached=False),
        mx_host=settings.smtp.hostname,
        policy_defaults=PolicyDefaults.from_settings(settings),
        hooks=hooks,
        plugin_packages=plugin_packages(settings.data_dir),
        token_cache_seconds=settings.api.token_cache_seconds,
        dkim_settings=settings.dkim,
        # Forwards the send API makes: SRS, and ARC with the forwarding domain's RSA key.
        forwarder=forwarder_from_settings(
            settings,
            keyring,
            ArcKeys(
                stores.metadata,
                SecretVault(stores.metadata, keyring),
                cache_seconds=settings.forwarding.key_cache_seconds,
            ).key_for,
        ),
        regions=regions,
        webhook_urls=UrlRules(
            AddressPolicy.allowing(settings.webhooks.allow_networks),
            allow_http=settings.webhooks.allow_http,
            # The operator's resolver when one is configured, as for every other lookup.
            resolve=(
                records_resolve(CachingResolver.from_settings(settings.dns))
                if settings.dns.nameservers
                else system_resolve
            ),
        ),
    )
    app.state.telemetry = telemetry
    app.state.metrics = ApiMetrics(
        stores.metadata, telemetry, lease_seconds=settings.queue.lease_seconds
    )
    app.state.rate_limits = RateLimits.from_settings(settings.api)
    install_problem_handlers(app)
    app.state.path_limits = {SEND_PATH: send_body_limit(settings.api.max_send_size)}
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=MAX_REQUEST_BODY, path_limits=app.state.path_limits
    )
    # Added last so it is outermost: it also counts the 500s the problem middleware writes.
    app.add_middleware(RequestMetricsMiddleware, metrics=app.state.metrics)
    app.include_router(api_router)
    app.include_router(graphql_router())
    # Last: the UI answers only what no API route does (and never an API path).
    app.router.routes.append(web_ui_route(settings.api.web_dir))
    app.openapi = lambda: _openapi_schema(app)  # type: ignore[method-assign]
    return app


def with_own_telemetry(own: PlatformMetrics, others: TelemetrySource | None) -> TelemetrySource:
    """The replica's snapshot (as ``api@host:pid``) and what ``others`` report."""
    label = f"api@{platform.node() or 'localhost'}:{os.getpid()}"

    def source() -> list[TelemetrySnapshot]:
        return [own.snapshot(label), *(others() if others is not None else ())]

    return source


def _webhook_resolve(settings: Settings) -> Resolve:
    """Webhook hosts are looked up like every other name: through ``[dns] nameservers``
    when the operator set them, else the system's resolver."""
    dns = settings.dns
    if not dns.nameservers:
        return system_resolve
    return records_resolve(CachingResolver.from_settings(dns))


def _openapi_schema(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        schema = document_body_limit(schema, MAX_REQUEST_BODY, app.state.path_limits)
        schema = document_rate_limits(schema)
        app.openapi_schema = use_problem_media_type(schema)
    return app.openapi_schema
