"""The SMTP edge's part in forwarding: a recipient a routing rule forwards off the platform,
and a bounce that comes back to one of our SRS addresses, both queued as remote recipients.

A forward is accepted at RCPT as a remote recipient whose queued address is the rule's
target (the forwarding address kept as ORCPT and as the envelope recipient the row stands
for); at DATA its reverse path becomes the SRS address of the sender as it stands then
(a hook may have changed it) and the message gets this hop's ARC set. A bounce to an SRS
address of ours is reversed at RCPT and relayed to the original sender with the envelope
as it came (a null sender stays null); an address that does not reverse is no address of
ours: 550 5.1.1. A message to forward with MAX_HOPS Received fields or more is looping
(another server forwards it back to us): 554 5.4.6 at DATA. The rewriting and sealing
themselves are ``mairust.outbound.forwarding``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from mairust.auth.results import AuthResults
from mairust.errors import MairustError, StorageUnavailable
from mairust.model.address import domain_of
from mairust.outbound.forwarding import Forwarder, forwarding_orcpt
from mairust.outbound.srs import SrsError
from mairust.routing.router import NotLocal, Outbound, Route, UnknownUser, mailboxes_of
from mairust.smtp import replies
from mairust.smtp.relay import SuppressionLookup, remote_recipient
from mairust.smtp.transaction import NULL_SENDER, Transaction

log = logging.getLogger(__name__)

# RFC 5321 §6.3: count the Received fields to find a loop; Postfix's hopcount_limit.
MAX_HOPS = 50
_MAX_HEADER_SCAN = 256 * 1024


class ForwardingLoop(MairustError):
    """A message to forward has been through MAX_HOPS hops or more: it is looping."""


async def forward_recipient(
    forwarder: Forwarder,
    transaction: Transaction,
    recipient: str,
    route: Outbound,
    rcpt_options: list[str],
    mail_from: str,
    suppressions: SuppressionLookup | None = None,
) -> str:
    """RCPT of a forwarding address: its target queued in ``transaction``; the reply. A
    target the forwarding domain's tenant suppresses (it bounced hard, or complained) is
    refused as a submitter's would be."""
    sender = "" if mail_from == NULL_SENDER else mail_from
    try:
        return_path = forwarder.return_path(sender, recipient)
    except SrsError as error:
        log.info("forward of %s refused for sender %r: %s", recipient, sender, error)
        return replies.SENDER_NOT_FORWARDABLE
    if suppressions is not None:
        try:
            found = await asyncio.to_thread(suppressions, route.tenant_id, [route.recipient])
        except StorageUnavailable as error:
            log.warning("suppression list of %s unreadable: %r", route.tenant_id, error)
            return replies.TEMP_FAILURE
        if found:
            return replies.recipient_suppressed(next(iter(found.values())).reason.value)
    queued = remote_recipient(route.recipient, rcpt_options, route.tenant_id)
    transaction.remote[recipient] = replace(
        queued,
        # RFC 3461 §4.2: the address the sender gave, unless it gave one itself.
        orcpt=queued.orcpt or forwarding_orcpt(recipient),
        envelope_recipient=recipient,
        mail_from=return_path,
    )
    transaction.tenants[recipient] = route.tenant_id
    transaction.forwarded.add(recipient)
    return replies.RECIPIENT_OK


def bounce_recipient(
    forwarder: Forwarder,
    transaction: Transaction,
    recipient: str,
    route: Route,
    rcpt_options: list[str],
) -> str:
    """RCPT of one of our SRS addresses: the original sender queued; the reply."""
    try:
        original = forwarder.bounce_target(recipient)
    except SrsError as error:
        log.info("SRS address %s refused: %s", recipient, error)
        return replies.BAD_SRS_ADDRESS
    tenant_id = _tenant_of(route)
    transaction.remote[recipient] = replace(
        remote_recipient(original, rcpt_options, tenant_id), envelope_recipient=recipient
    )
    if tenant_id is not None:
        transaction.tenants[recipient] = tenant_id
    return replies.RECIPIENT_OK


async def forwarded_message(
    forwarder: Forwarder,
    transaction: Transaction,
    message: bytes,
    mail_from: str,
    stamped: AuthResults | None,
) -> bytes:
    """DATA for a transaction with forwards: their reverse paths made from ``mail_from`` as
    accepted, and ``message`` sealed. Raises SrsError when the sender cannot be rewritten."""
    forwards = [rcpt for rcpt in transaction.remote if rcpt in transaction.forwarded]
    if not forwards:
        return message
    hops = received_count(message)
    if hops >= MAX_HOPS:
        raise ForwardingLoop(f"{hops} Received fields")
    for rcpt in forwards:
        transaction.remote[rcpt] = replace(
            transaction.remote[rcpt], mail_from=forwarder.return_path(mail_from, rcpt)
        )
    # One ARC set per hop: sealed for the first forwarding address's domain.
    return await asyncio.to_thread(forwarder.sealed, message, domain_of(forwards[0]), stamped)


def received_count(message: bytes) -> int:
    """How many Received fields the header section of ``message`` (CRLF) has."""
    head = message[:_MAX_HEADER_SCAN].split(b"\r\n\r\n", 1)[0]
    return sum(1 for line in head.split(b"\r\n") if line[:9].lower() == b"received:")


def _tenant_of(route: Route) -> str | None:
    match route:
        case UnknownUser(tenant_id=tenant_id) | Outbound(tenant_id=tenant_id):
            return tenant_id
        case NotLocal():
            return None
    owners = mailboxes_of(route)
    return owners[0].tenant_id if owners else None
