"""Outgoing event webhooks of a tenant: endpoints and their deliveries (tenant admins).

The signing secret is in the creation answer only; it is kept sealed in the secret store.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from mairust.api.deps import AppDep, TenantAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_events import (
    DeliveryList,
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookUpdate,
)

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 503),
)

EndpointId = Annotated[str, Path(min_length=1, max_length=64, description="An endpoint id.")]


@router.post(
    "/webhooks",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create a webhook endpoint",
    responses=problem_responses(404, 422),
)
def create_webhook(
    body: WebhookCreate, principal: TenantAdmin, application: AppDep
) -> WebhookCreated:
    """A new endpoint and its signing secret (`whsec_…`, in this answer only). The url is
    https (http only where the operator allows it), and its host may not be a loopback,
    private, link-local or metadata address."""
    created = application.webhooks.create(
        principal, body.url, body.event_types, body.enabled, body.tenant_id
    )
    out = WebhookOut.from_endpoint(created.endpoint)
    return WebhookCreated(**out.model_dump(), secret=created.secret)


@router.get("/webhooks", response_model=WebhookList, summary="List webhook endpoints")
def list_webhooks(principal: TenantAdmin, application: AppDep) -> WebhookList:
    """The caller's tenant's endpoints (never their secrets), oldest first."""
    endpoints = application.webhooks.list_endpoints(principal)
    return WebhookList(items=[WebhookOut.from_endpoint(e) for e in endpoints])


@router.get(
    "/webhooks/{endpoint_id}",
    response_model=WebhookOut,
    summary="Read a webhook endpoint",
    responses=problem_responses(404),
)
def get_webhook(endpoint_id: EndpointId, principal: TenantAdmin, application: AppDep) -> WebhookOut:
    """One endpoint of the caller's tenant (never its secret)."""
    return WebhookOut.from_endpoint(application.webhooks.get(principal, endpoint_id))


@router.patch(
    "/webhooks/{endpoint_id}",
    response_model=WebhookOut,
    summary="Change a webhook endpoint",
    responses=problem_responses(404, 422),
)
def update_webhook(
    endpoint_id: EndpointId, body: WebhookUpdate, principal: TenantAdmin, application: AppDep
) -> WebhookOut:
    """Change the url, the event types or whether it is enabled (what is given)."""
    endpoint = application.webhooks.update(
        principal, endpoint_id, url=body.url, event_types=body.event_types, enabled=body.enabled
    )
    return WebhookOut.from_endpoint(endpoint)


@router.delete(
    "/webhooks/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a webhook endpoint",
    responses=problem_responses(404),
)
def delete_webhook(
    endpoint_id: EndpointId, principal: TenantAdmin, application: AppDep
) -> Response:
    """The endpoint, its deliveries and its signing secret are removed."""
    application.webhooks.delete(principal, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    response_model=DeliveryList,
    summary="List an endpoint's deliveries",
    responses=problem_responses(404),
)
def list_deliveries(
    endpoint_id: EndpointId,
    principal: TenantAdmin,
    application: AppDep,
    limit: Annotated[int, Query(ge=1, le=500, description="How many, newest first.")] = 100,
) -> DeliveryList:
    """State, attempts and last error of each delivery to the endpoint, newest first."""
    found = application.webhooks.deliveries(principal, endpoint_id, limit=limit)
    return DeliveryList(items=[DeliveryOut.from_delivery(d) for d in found])
