"""The API's routers, one module per resource, gathered into one router."""

from __future__ import annotations

from fastapi import APIRouter

from mairust.api.routes import (
    access,
    directory,
    events,
    health,
    messages,
    queue,
    search,
    webhooks,
)

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(messages.router)
api_router.include_router(search.router)
api_router.include_router(directory.router)
api_router.include_router(queue.router)
api_router.include_router(access.router)
api_router.include_router(events.router)
api_router.include_router(webhooks.router)

__all__ = ["api_router"]
