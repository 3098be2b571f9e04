"""A local domain's own policy and routing rules, under ``/domains/{domain}``.

Routes parse and present; :class:`~mairust.services.policy.PolicyService` decides. A change
is in force on every SMTP front-end within ``smtp.recipient_cache_seconds``, without a
restart. Another tenant's domain or rule answers 404, like a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from mairust.api.deps import AppDep, TenantAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_policy import PolicyFields, PolicyOut, RuleCreate, RuleList, RuleOut

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/domains/{domain}",
    tags=["policy"],
    responses=problem_responses(401, 403, 404, 503),
)

DomainName = Annotated[str, Path(min_length=1, max_length=253, description="A local domain.")]
RuleId = Annotated[str, Path(min_length=1, max_length=64, description="The rule's id.")]


@router.get("/policy", response_model=PolicyOut, summary="Read a domain's policy")
def get_policy(domain: DomainName, principal: TenantAdmin, application: AppDep) -> PolicyOut:
    """The domain's own settings and what is in force once the configuration's defaults
    fill the unset ones."""
    return PolicyOut.from_view(application.policy.get_policy(principal, domain))


@router.put(
    "/policy",
    response_model=PolicyOut,
    summary="Set a domain's policy",
    responses=problem_responses(422),
)
def set_policy(
    domain: DomainName, body: PolicyFields, principal: TenantAdmin, application: AppDep
) -> PolicyOut:
    """Replace the domain's own policy: SPF and DMARC enforcement for mail to it, the
    largest message it takes and messages per minute. A field left out or null inherits
    the configuration. In force within `smtp.recipient_cache_seconds`, no restart."""
    view = application.policy.set_policy(principal, domain, body.to_policy())
    return PolicyOut.from_view(view)


@router.get("/routes", response_model=RuleList, summary="List a domain's routing rules")
def list_rules(domain: DomainName, principal: TenantAdmin, application: AppDep) -> RuleList:
    """The rules in the order they are tried: after the domain's mailboxes and aliases,
    before its catch-all; the first whose pattern matches the local part decides."""
    rules = application.policy.list_rules(principal, domain)
    return RuleList(items=[RuleOut.from_rule(rule) for rule in rules])


@router.post(
    "/routes",
    response_model=RuleOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a routing rule",
    responses=problem_responses(409, 422),
)
def add_rule(
    domain: DomainName, body: RuleCreate, principal: TenantAdmin, application: AppDep
) -> RuleOut:
    """Send matching addresses to a mailbox (`local`), another address (`forward`) or a
    host (`relay`, platform admin only: 403 otherwise; `lmtp:...` targets deliver over LMTP
    to a local mail store). A recipient forwarded off this platform is queued for its
    target with an SRS reverse path and an ARC seal (`451 4.3.5` at RCPT when
    `[forwarding]` is off). 404 for a target outside the tenant, 409 for a pattern the
    domain has a rule for."""
    return RuleOut.from_rule(application.policy.add_rule(principal, domain, body.to_rule()))


@router.delete(
    "/routes/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a routing rule",
)
def delete_rule(
    domain: DomainName, rule_id: RuleId, principal: TenantAdmin, application: AppDep
) -> Response:
    """The rule no longer applies (within `smtp.recipient_cache_seconds`)."""
    application.policy.delete_rule(principal, domain, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
