"""The API's routers, one module per resource, gathered into one router."""

from __future__ import annotations

from fastapi import APIRouter

from mairust.api.routes import (
    access,
    admin_hooks,
    admin_plugin_catalog,
    admin_plugin_secrets,
    admin_plugin_training,
    callbacks,
    directory,
    dkim_keys,
    dmarc_reports,
    domain_policy,
    domain_settings,
    events,
    folders,
    health,
    messages,
    outbound,
    quarantine,
    queue,
    quotas,
    search,
    send,
    stats,
    suppressions,
    unsubscribe,
    webhooks,
)

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(messages.router)
api_router.include_router(search.router)
api_router.include_router(directory.router)
api_router.include_router(queue.router)
api_router.include_router(access.router)
api_router.include_router(quotas.router)
api_router.include_router(send.router)
api_router.include_router(messages.threads_router)
api_router.include_router(folders.router)
api_router.include_router(domain_settings.router)
api_router.include_router(events.router)
api_router.include_router(webhooks.router)
api_router.include_router(domain_policy.router)
api_router.include_router(admin_hooks.router)
api_router.include_router(admin_plugin_catalog.router)
api_router.include_router(admin_plugin_secrets.router)
api_router.include_router(callbacks.router)
api_router.include_router(quarantine.router)
api_router.include_router(admin_plugin_training.router)
api_router.include_router(outbound.router)
api_router.include_router(suppressions.router)
api_router.include_router(dkim_keys.router)
api_router.include_router(unsubscribe.router)
api_router.include_router(dmarc_reports.router)
api_router.include_router(stats.router)

__all__ = ["api_router"]
