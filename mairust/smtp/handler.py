"""The inbound SMTP handler: what MaiRust answers to MAIL, RCPT and DATA.

aiosmtpd finds the ``handle_<VERB>`` methods by name. The handler decides; the
protocol (``protocol.py``) speaks and the front-end (``frontend.py``) listens.
DATA does checks → hooks → spool commit → reply, and nothing else (STYLE.md 1).
Every refusal is a named reply from ``replies.py`` and is recorded as a
``Rejection``; every acceptance is a ``Reception`` (``mairust.events``). Those with a
local recipient are also kept in the recipient's tenant's event log
(``event_records.py``), written by the spool's group commit.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from mairust import events
from mairust.auth.checker import SenderCheck
from mairust.auth.headers import authentication_results, prepend_header, strip_forged_results
from mairust.auth.policy import AuthPolicy
from mairust.auth.results import AuthResults
from mairust.auth.service import AuthService
from mairust.config import SmtpSettings
from mairust.errors import InvalidInput, StorageUnavailable
from mairust.model.address import domain_of, normalize_address
from mairust.model.annotations import Annotations
from mairust.model.ids import new_id
from mairust.model.message import Envelope
from mairust.model.parsing import without_controls
from mairust.model.policy import DomainPolicy
from mairust.model.quota import is_full
from mairust.routing.route_cache import RouteCache
from mairust.routing.router import (
    AliasTargets,
    Directory,
    NotLocal,
    Outbound,
    Route,
    UnknownUser,
    mailboxes_of,
)
from mairust.smtp import replies
from mairust.smtp.domain_limits import DomainLimits
from mairust.smtp.event_records import header_message_id, reception_events, rejection_events
from mairust.smtp.trace import normalize_line_endings, received_header, with_protocol
from mairust.spool import Spool

log = logging.getLogger(__name__)

NULL_SENDER = "<>"
# RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address at most 254.
MAX_ADDRESS_LENGTH = 254


class InboundHandler:
    """Decides each envelope command and commits accepted messages to the spool."""

    def __init__(
        self,
        directory: Directory,
        spool: Spool,
        settings: SmtpSettings,
        auth: InboundAuth | None = None,
        default_quota_bytes: int = 0,
    ) -> None:
        self._routes = RouteCache(directory, settings.recipient_cache_seconds)
        self._limits = DomainLimits(settings.max_message_size)
        self._default_quota = default_quota_bytes
        self._spool = spool
        self._settings = settings
        self._auth = auth
        # The SPF results of each open transaction, made at MAIL, used at RCPT and DATA.
        self._senders: weakref.WeakKeyDictionary[SmtpEnvelope, SenderCheck] = (
            weakref.WeakKeyDictionary()
        )
        # The tenant of each accepted recipient of an open transaction (for its events),
        # and the id of the transaction: its message's queue id if it is accepted, and the
        # id its refusals are recorded under (so a trace of the message shows them).
        self._tenants: weakref.WeakKeyDictionary[SmtpEnvelope, dict[str, str]] = (
            weakref.WeakKeyDictionary()
        )
        self._transaction_ids: weakref.WeakKeyDictionary[SmtpEnvelope, str] = (
            weakref.WeakKeyDictionary()
        )
        # The own policy of each recipient domain of an open transaction.
        self._policies: weakref.WeakKeyDictionary[SmtpEnvelope, dict[str, DomainPolicy]] = (
            weakref.WeakKeyDictionary()
        )

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        # Only here to advertise ENHANCEDSTATUSCODES (RFC 2034): every reply carries one.
        session.host_name = hostname
        return [*responses[:-1], "250-ENHANCEDSTATUSCODES", responses[-1]]

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if address == NULL_SENDER:
            sender = NULL_SENDER  # bounces; kept as "<>" so aiosmtpd sees a MAIL was given
        else:
            checked = _check_address(address, envelope.smtp_utf8, replies.BAD_SENDER_ADDRESS)
            if isinstance(checked, _Refusal):
                return _rejected(checked.reply, "MAIL", session, mail_from=address)
            sender = checked
        envelope.mail_from = sender
        envelope.mail_options.extend(mail_options)
        if self._auth is not None and self._auth.checks(session):
            try:
                self._senders[envelope] = await self._auth.service.check_sender(
                    client_ip_of(session),
                    session.host_name or "",
                    "" if sender == NULL_SENDER else sender,
                )
            except Exception as error:  # the checker pool is down: say "later", never "ok"
                log.warning("SPF check for <%s> failed: %r", sender, error)
                envelope.mail_from = None
                return _rejected(replies.TEMP_FAILURE, "MAIL", session, mail_from=sender)
        return replies.SENDER_OK

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        checked = _check_address(address, envelope.smtp_utf8, replies.BAD_RECIPIENT_ADDRESS)
        if isinstance(checked, _Refusal):
            return _rejected(checked.reply, "RCPT", session, recipient=address)
        recipient = checked
        if recipient in envelope.rcpt_tos:
            return replies.RECIPIENT_OK  # a repeated RCPT adds no second copy
        if len(envelope.rcpt_tos) >= self._settings.max_recipients:
            return _rejected(replies.TOO_MANY_RECIPIENTS, "RCPT", session, recipient=recipient)
        try:
            # A fresh cached route costs no thread hop and no query (most RCPTs under load).
            route: Route | None = self._routes.cached(recipient)
            if route is None:
                route = await asyncio.to_thread(self._routes.route, recipient)
        except StorageUnavailable as error:
            log.warning("recipient %s could not be looked up: %r", recipient, error)
            return _rejected(replies.TEMP_FAILURE, "RCPT", session, recipient=recipient)
        if isinstance(route, NotLocal):
            reply = (
                replies.OUTBOUND_RELAY_DISABLED if session.authenticated else replies.RELAY_DENIED
            )
            return _rejected(reply, "RCPT", session, recipient=recipient)
        if isinstance(route, UnknownUser):
            self._note_refusal(
                replies.UNKNOWN_USER, "RCPT", session, envelope, [(recipient, route.tenant_id)]
            )
            return _rejected(replies.UNKNOWN_USER, "RCPT", session, recipient=recipient)
        if isinstance(route, Outbound):
            # A routing rule forwards or relays it; outbound delivery comes later (4xx:
            # the sender keeps the message and retries).
            self._note_refusal(
                replies.ROUTED_ELSEWHERE, "RCPT", session, envelope, [(recipient, route.tenant_id)]
            )
            return _rejected(replies.ROUTED_ELSEWHERE, "RCPT", session, recipient=recipient)
        if self._limits.declared_too_big(route.policy, envelope.mail_options):
            return _rejected(replies.TOO_BIG_FOR_DOMAIN, "RCPT", session, recipient=recipient)
        # Checked here, before any 250, on the usage the cached route carries: it may be
        # up to smtp.recipient_cache_seconds old, so a mailbox can take a few messages past
        # its quota, and one emptied a moment ago may still be refused that long. What is
        # accepted is delivered, over quota or not (250 is a promise). An alias is full when
        # any of its mailboxes is: 452 is temporary, and no target gets a copy past its quota.
        targets = route.mailboxes if isinstance(route, AliasTargets) else (route.mailbox,)
        if any(is_full(mailbox, self._default_quota) for mailbox in targets):
            return _rejected(replies.MAILBOX_FULL, "RCPT", session, recipient=recipient)
        # The tenant whose event log records what happens to this recipient.
        tenant_id = mailboxes_of(route)[0].tenant_id
        sender_check = self._senders.get(envelope)
        if self._auth is not None and sender_check is not None:
            decision = self._auth.policy.on_recipient(
                sender_check.spf, client_ip_of(session), domain_of(recipient), route.policy
            )
            refusal = replies.reply_for_auth(decision)
            if refusal is not None:
                self._note_refusal(refusal, "RCPT", session, envelope, [(recipient, tenant_id)])
                return _rejected(
                    refusal, "RCPT", session, recipient=recipient, reason=decision.reason
                )
        policies = self._policies.setdefault(envelope, {})
        domain = domain_of(recipient)
        # The domain's allowance counts messages: its first recipient of a transaction.
        if domain not in policies and not self._limits.admit(domain, route.policy):
            self._note_refusal(
                replies.DOMAIN_RATE_LIMITED, "RCPT", session, envelope, [(recipient, tenant_id)]
            )
            return _rejected(replies.DOMAIN_RATE_LIMITED, "RCPT", session, recipient=recipient)
        policies[domain] = route.policy
        if tenant_id is not None:
            self._tenants.setdefault(envelope, {})[recipient] = tenant_id
        envelope.rcpt_tos.append(recipient)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        content = envelope.original_content or b""
        tenants = self._tenants.pop(envelope, {})
        policies = self._policies.pop(envelope, {})
        if not content or content.isspace():
            self._note_refusal(replies.EMPTY_MESSAGE, "DATA", session, envelope, tenants.items())
            return _rejected(replies.EMPTY_MESSAGE, "DATA", session)
        if len(content) > self._limits.size_limit(policies.values()):
            self._note_refusal(replies.MESSAGE_TOO_BIG, "DATA", session, envelope, tenants.items())
            return _rejected(replies.MESSAGE_TOO_BIG, "DATA", session, size=len(content))
        body = normalize_line_endings(content)
        header_id = header_message_id(body)
        auth_results: AuthResults | None = None
        annotations = Annotations()
        sender_check = self._senders.pop(envelope, None)
        if self._auth is not None and sender_check is not None:
            try:
                auth_results = await self._auth.service.check_message(body, sender_check)
            except Exception as error:  # the checker pool is down: say "later", never "ok"
                log.warning("message checks failed: %r", error)
                return _rejected(replies.TEMP_FAILURE, "DATA", session)
            decision = self._auth.policy.on_message(
                auth_results,
                client_ip_of(session),
                {domain_of(r) for r in envelope.rcpt_tos},
                policies,
            )
            refusal = replies.reply_for_auth(decision)
            if refusal is not None:
                self._note_refusal(refusal, "DATA", session, envelope, tenants.items(), header_id)
                return _rejected(refusal, "DATA", session, reason=decision.reason)
            annotations = decision.annotations
        if self._auth is not None:
            # Nobody else may speak for our authserv-id (RFC 8601 §5), checked or not.
            body = strip_forged_results(body, self._auth.authserv_id)
            if auth_results is not None:
                body = prepend_header(
                    body,
                    "Authentication-Results",
                    authentication_results(self._auth.authserv_id, auth_results),
                )
        message_id = self._transaction_ids.pop(envelope, None) or new_id()
        accepted = _accepted_envelope(session, envelope)
        trace = received_header(
            helo=accepted.helo,
            client_ip=accepted.client_ip,
            hostname=self._settings.hostname,
            protocol=with_protocol(session, envelope),
            message_id=message_id,
            recipients=accepted.rcpt_tos,
            received_at=accepted.received_at,
        )
        message = trace + body
        # Hook point: pre_receive hooks (DESIGN §6) run here, on the final bytes, under
        # one deadline, before anything is stored.
        received = reception_events(
            message_id,
            header_id,
            {rcpt: tenants[rcpt] for rcpt in accepted.rcpt_tos if rcpt in tenants},
            accepted.received_at,
            {"client": accepted.client_ip, "mail_from": accepted.mail_from, "size": len(message)},
        )
        try:
            ref = await self._spool.commit(
                message,
                accepted,
                message_id=message_id,
                auth_results=auth_results.to_json() if auth_results is not None else None,
                annotations=annotations,
                events=received,
            )
        except StorageUnavailable as error:
            log.warning("message from %s not accepted: %s", accepted.client_ip, error)
            return _rejected(replies.TEMP_FAILURE, "DATA", session, size=len(message))
        # The Reception record is the one log line per accepted message.
        events.record(
            events.RecordType.RECEPTION,
            message_id=ref.id,
            mail_from=accepted.mail_from,
            rcpt_count=len(accepted.rcpt_tos),
            size=ref.size,
            client=accepted.client_ip,
            authenticated_as=accepted.authenticated_as,
        )
        return replies.queued(ref.id)

    def _note_refusal(
        self,
        reply: str,
        stage: str,
        session: Session,
        envelope: SmtpEnvelope,
        recipients: Iterable[tuple[str, str | None]],
        header_id: str | None = None,
    ) -> None:
        """Keep a refusal in the event log of each local recipient's tenant (see
        ``event_records``: a refusal without a local recipient is logged only)."""
        owned = [(rcpt, tenant) for rcpt, tenant in recipients if tenant is not None]
        if not owned:
            return
        mail_from = envelope.mail_from or ""
        detail = {
            "stage": stage,
            "client": client_ip_of(session),
            "mail_from": "" if mail_from == NULL_SENDER else mail_from,
        }
        transaction_id = self._transaction_ids.setdefault(envelope, new_id())
        self._spool.note_events(rejection_events(reply, owned, detail, transaction_id, header_id))

    async def handle_exception(self, error: Exception) -> str:
        # A bug or an outage we did not foresee: log it whole, tell the client to retry,
        # and never show it our exception text.
        log.error("SMTP session failed: %r", error, exc_info=error)
        return replies.TEMP_FAILURE


@dataclass(frozen=True, slots=True)
class InboundAuth:
    """Everything the handler needs to authenticate senders: the checks and the policy."""

    service: AuthService
    policy: AuthPolicy
    authserv_id: str

    def checks(self, session: Session) -> bool:
        """Mail from trusted networks and from authenticated users is not checked."""
        return not session.authenticated and not self.policy.skips(client_ip_of(session))


@dataclass(frozen=True, slots=True)
class _Refusal:
    reply: str


def _check_address(address: str, smtp_utf8: bool, malformed: str) -> str | _Refusal:
    """The normalised address, or the refusal that explains what is wrong with it."""
    if len(address.encode("utf-8", errors="surrogateescape")) > MAX_ADDRESS_LENGTH:
        return _Refusal(replies.ADDRESS_TOO_LONG)
    try:
        address.encode("utf-8")  # bytes that were not UTF-8 arrive as surrogates
        normalized = normalize_address(address)
    except (UnicodeEncodeError, InvalidInput):
        return _Refusal(malformed)
    if not normalized.isascii() and not smtp_utf8:
        return _Refusal(replies.NON_ASCII_NEEDS_SMTPUTF8)
    return normalized


def _rejected(reply: str, stage: str, session: Session, **fields: Any) -> str:
    events.record(
        events.RecordType.REJECTION,
        stage=stage,
        reply=reply,
        client=client_ip_of(session),
        **fields,
    )
    return reply


def _accepted_envelope(session: Session, envelope: SmtpEnvelope) -> Envelope:
    mail_from = envelope.mail_from or ""
    identity = session.auth_data if session.authenticated else None
    return Envelope(
        mail_from="" if mail_from == NULL_SENDER else mail_from,
        rcpt_tos=tuple(envelope.rcpt_tos),
        received_at=datetime.now(UTC),
        helo=without_controls(session.host_name or ""),
        client_ip=client_ip_of(session),
        authenticated_as=identity if isinstance(identity, str) else None,
        mail_options=tuple(envelope.mail_options),
    )


def client_ip_of(session: Session) -> str:
    """The client's IP address as text ("" when the transport has no peer address)."""
    peer: Any = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")
