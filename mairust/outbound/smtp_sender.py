"""The delivery loop's :class:`~mairust.outbound.delivery.DestinationSender` over SMTP.

Joins the three pieces for one session's worth of messages: the destination's route
(``mx.py``: its MX hosts, or the relay host), one SMTP session to the first endpoint that
answers (``smtp_client.py``), and a :class:`~mairust.outbound.delivery.RemoteReply` per
leased recipient row, with the host and address that answered. A failure before any
remote reply (null MX, NXDOMAIN, DNS down, no host reachable, TLS required and not had)
is a reply for every row, 4xx or 5xx by its enhanced code; nothing raises for a remote
fault. The rows' DSN requests (NOTIFY, ORCPT, RET, ENVID) go with the messages.

An LMTP relay (``lmtp:...``, a local mail store) is reached without MX lookup, with LHLO
and a reply per recipient; the MX TLS policy is not its own: opportunistic over TCP, none
over a unix socket. A relay host with credentials (``credentials_for``) gets AUTH after
STARTTLS, TLS required.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from mairust.auth.dns import Resolver
from mairust.outbound.delivery import OutgoingMessage, RemoteReply
from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.mx import SMTP_PORT, AddressType, Endpoint, Route, resolve_route_async
from mairust.outbound.session_cache import SessionCache
from mairust.outbound.smtp_client import SmtpSession, deliver, unreachable
from mairust.outbound.smtp_types import (
    AuthenticationFailed,
    ClientSettings,
    Credentials,
    MessageResult,
    OutboundMessage,
    RecipientResult,
    SessionUnavailable,
    TlsPolicy,
)

if TYPE_CHECKING:  # tls_policy imports smtp_client; only the type is needed here
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
    ``credentials_for``: a relay host's credentials (as the rule names it), or None; it may
    read the secret store, so it runs on a worker thread. ``relay_context``: the verifying
    context of a session that logs in, when the settings bring none (``[outbound_tls]
    ca_file``: a peer region's or a relay's certificate from a private CA); None: the
    system's CAs. ``cache``: idle sessions kept
    for the next batch to the same destination (None: each batch its own session). One
    instance serves every destination of a delivery loop.
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
        credentials_for: Callable[[str], Credentials | None] | None = None,
        relay_context: ssl.SSLContext | None = None,
        cache: SessionCache | None = None,
    ) -> None:
        self._cache = cache
        self._relay_context = relay_context
        self._resolver = resolver
        self._settings = settings
        self._port = port
        self._address_types = tuple(address_types)
        self._tls_for = tls_for
        self._tls_plan_for = tls_plan_for
        self._credentials_for = credentials_for

    async def send(
        self,
        destination: str,
        relay_host: str | None,
        messages: Sequence[OutgoingMessage],
        *,
        source_address: str | None = None,
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
        try:
            settings = await self._settings_for(destination, relay_host, route)
        except DeliveryFailure as failure:
            reply = RemoteReply(failure.smtp_code, failure.enhanced_code, str(failure))
            return {item.id: reply for message in messages for item in message.recipients}
        endpoints = route.endpoints()
        plan = None
        if self._tls_plan_for is not None and route.protocol != "lmtp":
            plan = await self._tls_plan_for(destination)
        if plan is not None:
            try:
                endpoints = plan.endpoints(route)  # MTA-STS enforce: only the policy's MXs
            except DeliveryFailure as failure:
                log.info("outbound: %s: %s", destination, failure)
                reply = RemoteReply(failure.smtp_code, failure.enhanced_code, str(failure))
                return {item.id: reply for message in messages for item in message.recipients}
            settings = plan.client_settings(settings)
        outbound = [outbound_message(message) for message in messages]
        if source_address is not None:
            settings = replace(settings, source_address=source_address)
        if self._cache is None:
            results = await deliver(endpoints, outbound, settings)
        else:
            # A session opened under another TLS policy (another id, mode) is not reused.
            policy_key = plan.reason if plan is not None else None
            key = (destination, relay_host, settings.source_address, policy_key)
            results = await self._over_cached_sessions(key, endpoints, outbound, settings)
        if plan is not None:
            plan.settled(results)
        replies: dict[int, RemoteReply] = {}
        for message, result in zip(messages, results, strict=True):
            by_address = {r.recipient: r for r in result.recipients}
            for item in message.recipients:
                replies[item.id] = remote_reply(by_address[item.recipient])
        return replies

    async def _over_cached_sessions(
        self,
        key: tuple[str, str | None, str | None, str | None],
        endpoints: Sequence[Endpoint],
        outbound: Sequence[OutboundMessage],
        settings: ClientSettings,
    ) -> list[MessageResult]:
        """``outbound`` over an idle session of the destination if one still answers,
        else a new one (and a next one after ``max_messages``); the last kept idle."""
        cache = self._cache
        assert cache is not None
        cached = await cache.take(key)
        session, sent = (cached.session, cached.sent) if cached else (None, 0)
        results: list[MessageResult] = []
        for position, message in enumerate(outbound):
            if session is None or not session.usable or sent >= cache.max_messages:
                if session is not None:
                    await session.close()
                try:
                    session, sent = await SmtpSession.open(endpoints, settings), 0
                except SessionUnavailable as failure:
                    results.extend(unreachable(outbound[position:], failure))
                    return results
            results.append(await session.send(message))
            sent += 1
        if session is not None:
            await cache.give(key, session, sent)
        return results

    async def close_idle(self) -> None:
        """Close the sessions idle past their time (the delivery loop, each round)."""
        if self._cache is not None:
            await self._cache.close_idle()

    async def aclose(self) -> None:
        if self._cache is not None:
            await self._cache.aclose()

    async def _settings_for(
        self, destination: str, relay_host: str | None, route: Route
    ) -> ClientSettings:
        settings = self._settings
        if route.protocol == "lmtp":
            # A local store: not an MX, so neither the MX policy nor the recipient
            # domain's MTA-STS applies; a unix socket never leaves the machine.
            unix = all(endpoint.unix for endpoint in route.endpoints())
            local = TlsPolicy.OFF if unix else TlsPolicy.OPPORTUNISTIC
            return replace(settings, tls=local, credentials=None)
        policy = self._tls_for(destination) if self._tls_for else None
        if policy is not None and policy is not settings.tls:
            settings = replace(settings, tls=policy)
        if relay_host is not None and self._credentials_for is not None:
            try:
                credentials = await asyncio.to_thread(self._credentials_for, relay_host)
            except Exception as exc:  # a secret gone or unreadable: ours to fix, not a bounce
                log.error("outbound: credentials for relay %s unusable: %s", relay_host, exc)
                raise AuthenticationFailed(
                    f"our credentials for relay {relay_host} cannot be read: {exc}"
                ) from exc
            if credentials is not None:
                context = settings.ssl_context or self._relay_context
                settings = replace(settings, credentials=credentials, ssl_context=context)
        return settings


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
