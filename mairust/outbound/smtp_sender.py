"""The delivery loop's :class:`~mairust.outbound.delivery.DestinationSender` over SMTP.

Joins the three pieces for one session's worth of messages: the destination's route
(``mx.py``: its MX hosts, or the relay host), one SMTP session to the first endpoint that
answers (``smtp_client.py``), and a :class:`~mairust.outbound.delivery.RemoteReply` per
leased recipient row, with the host and address that answered. A failure before any
remote reply (null MX, NXDOMAIN, DNS down, no host reachable, TLS required and not had)
is a reply for every row, 4xx or 5xx by its enhanced code; nothing raises for a remote
fault. The rows' DSN requests (NOTIFY, ORCPT, RET, ENVID) go with the messages.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from mairust.auth.dns import Resolver
from mairust.outbound.delivery import OutgoingMessage, RemoteReply
from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.mx import SMTP_PORT, AddressType, resolve_route_async
from mairust.outbound.smtp_client import deliver
from mairust.outbound.smtp_types import (
    ClientSettings,
    OutboundMessage,
    RecipientResult,
    TlsPolicy,
)

if TYPE_CHECKING:  # tls_policy imports smtp_types; only the type is needed here
    from mairust.outbound.tls_policy import DestinationTls

log = logging.getLogger(__name__)


class SmtpDestinationSender:
    """Sends a destination's messages over one SMTP session (see the module docstring).

    ``port``: the port of MX hosts (25; tests point it at loopback sinks); a relay host
    brings its own. ``tls_for``: a destination's own TLS policy when it has one (a
    per-domain ``require_tls``, an MTA-STS ``enforce``), else None for the settings' own.
    ``tls_plan_for``: the fuller form (``tls_policy.DestinationTlsPolicies``): a
    destination's TLS policy with its validating context, the MX hosts it allows and
    where its failures are reported; it wins over ``tls_for``.
    One instance serves every destination of a delivery loop.
    """

    def __init__(
        self,
        resolver: Resolver,
        settings: ClientSettings,
        *,
        port: int = SMTP_PORT,
        address_types: Sequence[AddressType] = ("A", "AAAA"),
        tls_for: Callable[[str], TlsPolicy | None] | None = None,
        tls_plan_for: Callable[[str], Awaitable[DestinationTls | None]] | None = None,
    ) -> None:
        self._resolver = resolver
        self._settings = settings
        self._port = port
        self._address_types = tuple(address_types)
        self._tls_for = tls_for
        self._tls_plan_for = tls_plan_for

    async def send(
        self, destination: str, relay_host: str | None, messages: Sequence[OutgoingMessage]
    ) -> dict[int, RemoteReply]:
        domain = destination.removeprefix("relay:") if relay_host else destination
        try:
            route = await resolve_route_async(
                domain,
                self._resolver,
                relay_host=relay_host,
                port=self._port,
                address_types=self._address_types,
            )
        except DeliveryFailure as failure:
            log.info("outbound: no route to %s: %s", destination, failure)
            reply = RemoteReply(failure.smtp_code, failure.enhanced_code, str(failure))
            return {item.id: reply for message in messages for item in message.recipients}
        outbound = [outbound_message(message) for message in messages]
        settings = self._settings
        policy = self._tls_for(destination) if self._tls_for else None
        if policy is not None and policy is not settings.tls:
            settings = replace(settings, tls=policy)
        plan = await self._tls_plan_for(destination) if self._tls_plan_for else None
        endpoints = route.endpoints()
        if plan is not None:
            try:
                endpoints = plan.endpoints(route)
            except DeliveryFailure as failure:
                log.info("outbound: %s: %s", destination, failure)
                reply = RemoteReply(failure.smtp_code, failure.enhanced_code, str(failure))
                return {item.id: reply for message in messages for item in message.recipients}
            settings = plan.client_settings(settings)
        results = await deliver(endpoints, outbound, settings)
        if plan is not None:
            plan.settled(results)
        replies: dict[int, RemoteReply] = {}
        for message, result in zip(messages, results, strict=True):
            by_address = {r.recipient: r for r in result.recipients}
            for item in message.recipients:
                replies[item.id] = remote_reply(by_address[item.recipient])
        return replies


def outbound_message(message: OutgoingMessage) -> OutboundMessage:
    """The client's view of a message: its distinct recipients and their DSN requests."""
    items = message.recipients
    first = items[0]
    return OutboundMessage(
        mail_from=message.mail_from,
        recipients=tuple(dict.fromkeys(item.recipient for item in items)),
        data=message.content,
        ret=first.ret,
        envid=first.envid,
        notify={item.recipient: item.notify for item in items if item.notify},
        orcpt={item.recipient: item.orcpt for item in items if item.orcpt},
    )


def remote_reply(result: RecipientResult) -> RemoteReply:
    reply = result.reply
    endpoint = result.endpoint
    return RemoteReply(
        code=reply.code,
        enhanced=reply.enhanced_code,
        text=reply.text.replace("\n", " / "),
        host=endpoint.host if endpoint else None,
        address=endpoint.address if endpoint else None,
    )
