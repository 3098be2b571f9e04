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
import time
import weakref
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from aiosmtpd.smtp import SMTP, Session, TLSSetupException
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from mairust import events
from mairust.auth.results import AuthResults
from mairust.config import SmtpSettings
from mairust.disk_space import DiskGuard
from mairust.errors import CheckUnavailable, InsufficientStorage, StorageUnavailable
from mairust.hooks.points import HookPoint
from mairust.log_format import message_context
from mairust.model.address import domain_of
from mairust.model.message import Envelope
from mairust.model.modifications import apply_to_envelope, apply_to_headers
from mairust.model.parsing import without_controls
from mairust.model.quota import is_full
from mairust.model.verdict import CONTINUE, Source, Verdict, VerdictKind, most_severe
from mairust.outbound.forwarding import Forwarder
from mairust.outbound.signing import (
    CachedSignerLookup,
    SignerLookup,
    signed_from_cache,
    signed_submission,
)
from mairust.outbound.srs import SrsError
from mairust.outbound.submission_fields import completed_submission
from mairust.routing.route_cache import RouteCache
from mairust.routing.router import (
    AliasTargets,
    Directory,
    HomeRegions,
    LocalMailbox,
    NotLocal,
    Outbound,
    Route,
    UnknownUser,
    mailboxes_of,
)
from mairust.smtp import replies
from mairust.smtp.content_limits import ContentLimits, content_refusal
from mairust.smtp.deciders import (
    EdgeHooks,
    InboundAuth,
    checked_data,
    envelope_refusal,
    own_sender_refusal,
)
from mairust.smtp.domain_limits import DomainLimits
from mairust.smtp.event_records import (
    header_message_id,
    reception_detail,
    reception_events,
    rejection_events,
)
from mairust.smtp.forwarding import (
    ForwardingLoop,
    bounce_recipient,
    forward_recipient,
    forwarded_message,
)
from mairust.smtp.relay import (
    SuppressionChecks,
    SuppressionLookup,
    as_spelt,
    dsn_mail_parameters,
    remote_recipient,
    submitter_tenant,
)
from mairust.smtp.submitter_cache import SubmitterCache
from mairust.smtp.trace import normalize_line_endings, received_header, with_protocol
from mairust.smtp.transaction import (
    NULL_SENDER,
    AddressRefusal,
    Transaction,
    accepted_envelope,
    check_address,
    client_ip_of,
    rejected,
)
from mairust.spool import Spool
from mairust.telemetry import PlatformMetrics

log = logging.getLogger(__name__)


class InboundHandler:
    """Decides each envelope command and commits accepted messages to the spool."""

    def __init__(
        self,
        directory: Directory,
        spool: Spool,
        settings: SmtpSettings,
        auth: InboundAuth | None = None,
        default_quota_bytes: int = 0,
        hooks: EdgeHooks | None = None,
        suppressions: SuppressionLookup | None = None,
        signer_for: SignerLookup | None = None,
        forwarder: Forwarder | None = None,
        disk: DiskGuard | None = None,
        telemetry: PlatformMetrics | None = None,
        homes: HomeRegions | None = None,
        peer_login: str | None = None,
        cached_signer_for: CachedSignerLookup | None = None,
    ) -> None:
        """``homes`` relays mail for tenants homed in another region (None: one region);
        ``peer_login`` is the login other regions relay with: a session authenticated as
        it delivers to this region's domains like any MX client (no submitter's sender
        rule, relaying, Date/Message-ID or signing) and skips the sender checks, which
        the first region made;
        ``hooks`` are asked at HELO/EHLO (``connect``), MAIL, each RCPT and the end of
        DATA (None: none); ``suppressions`` at each remote RCPT of a submitter (None:
        nothing is suppressed); ``signer_for`` gives the DKIM signer of a submitter's
        domain (None: nothing is signed), ``cached_signer_for`` the same when it is cached
        (the message is then signed on the event loop, not in a thread); ``forwarder``
        rewrites and seals what routing rules forward off the platform and takes back
        bounces to its SRS addresses (None: a forward is answered 451 4.3.5, an SRS
        address is routed like any other);
        ``disk`` refuses new mail (452 4.3.1) while free space is below its floor;
        ``telemetry`` times each end of DATA to its reply."""
        self._telemetry = telemetry
        self._disk = disk
        self._forwarder = forwarder
        self._suppressions = suppressions
        self._suppression_checks = SuppressionChecks(suppressions) if suppressions else None
        self._signer_for = signer_for
        self._cached_signer_for = cached_signer_for
        self._routes = RouteCache(directory, settings.recipient_cache_seconds, homes=homes)
        self._peer_login = peer_login
        self._submitters = SubmitterCache(settings.recipient_cache_seconds)
        self._directory = directory
        self._limits = DomainLimits(settings.max_message_size)
        self._content_limits = ContentLimits.of(settings)
        self._default_quota = default_quota_bytes
        self._spool = spool
        self._settings = settings
        self._auth = auth
        self._hooks = hooks
        # What the handler keeps of each open transaction; aiosmtpd makes a new envelope
        # per transaction (and on RSET), so a finished one is forgotten with it.
        self._open: weakref.WeakKeyDictionary[SmtpEnvelope, Transaction] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def routes(self) -> RouteCache:
        """The recipients' and logins' route cache (the front-end asks it a login's tenant)."""
        return self._routes

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        refusal = await self._connect_refusal(session, hostname)
        if refusal is not None:
            # No name kept (nor one from an earlier greeting): MAIL needs a 250 greeting.
            session.host_name = None
            return [refusal]
        session.host_name = hostname
        # Advertises ENHANCEDSTATUSCODES (RFC 2034): every reply carries one; DSN
        # (RFC 3461): its MAIL and RCPT parameters are kept for the outbound queue's DSNs;
        # and PIPELINING (RFC 2920): commands are read and answered strictly in order.
        extensions = ["250-ENHANCEDSTATUSCODES", "250-DSN", "250-PIPELINING"]
        return [*responses[:-1], *extensions, responses[-1]]

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, hostname: str
    ) -> str:
        refusal = await self._connect_refusal(session, hostname)
        if refusal is not None:
            session.host_name = None
            return refusal
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def _connect_refusal(self, session: Session, hostname: str) -> str | None:
        """The ``connect`` hooks, asked once the client has named itself (its address and
        HELO are what they decide on); only a refusal applies."""
        refusal = await envelope_refusal(
            self._hooks, HookPoint.CONNECT, session, "", (), (), helo=hostname
        )
        if refusal is None:
            return None
        return rejected(refusal, "CONNECT", session, helo=without_controls(hostname))

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self._disk is not None and self._disk.low():
            return rejected(replies.INSUFFICIENT_STORAGE, "MAIL", session, mail_from=address)
        if address == NULL_SENDER:
            sender = NULL_SENDER  # bounces; kept as "<>" so aiosmtpd sees a MAIL was given
        else:
            checked = check_address(address, envelope.smtp_utf8, replies.BAD_SENDER_ADDRESS)
            if isinstance(checked, AddressRefusal):
                return rejected(checked.reply, "MAIL", session, mail_from=address)
            sender = checked
        if self._submits(session):
            refusal = await self._sender_refusal(session, sender)
            if refusal is not None:
                return rejected(refusal, "MAIL", session, mail_from=sender)
        if self._auth is not None and self._auth.checks(session):
            try:
                self._state(envelope).sender_check = await self._auth.service.check_sender(
                    client_ip_of(session),
                    session.host_name or "",
                    "" if sender == NULL_SENDER else sender,
                )
            except CheckUnavailable as error:  # the checker pool is down: "later", never "ok"
                log.warning("SPF check for <%s> failed: %s", sender, error)
                return rejected(replies.TEMP_FAILURE, "MAIL", session, mail_from=sender)
        refusal = await envelope_refusal(
            self._hooks,
            HookPoint.MAIL_FROM,
            session,
            "" if sender == NULL_SENDER else sender,
            (),
            (),
        )
        if refusal is not None:
            return rejected(refusal, "MAIL", session, mail_from=sender)
        # Only now: a MAIL that failed (or raised) leaves no sender for a RCPT to follow.
        envelope.mail_from = sender
        envelope.mail_options.extend(mail_options)
        self._state(envelope).dsn = dsn_mail_parameters(as_spelt(server, mail_options))
        return replies.SENDER_OK

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        checked = check_address(address, envelope.smtp_utf8, replies.BAD_RECIPIENT_ADDRESS)
        if isinstance(checked, AddressRefusal):
            return rejected(checked.reply, "RCPT", session, recipient=address)
        recipient = checked
        if recipient in envelope.rcpt_tos:
            return replies.RECIPIENT_OK  # a repeated RCPT adds no second copy
        if len(envelope.rcpt_tos) >= self._settings.max_recipients:
            return rejected(replies.TOO_MANY_RECIPIENTS, "RCPT", session, recipient=recipient)
        try:
            # A fresh cached route costs no thread hop and no query (most RCPTs under load).
            route = await self._route(session, recipient)
        except StorageUnavailable as error:
            log.warning("recipient %s could not be looked up: %r", recipient, error)
            return rejected(replies.TEMP_FAILURE, "RCPT", session, recipient=recipient)
        if self._forwarder is not None and self._forwarder.is_bounce_address(
            recipient, not isinstance(route, NotLocal)
        ):
            reply = bounce_recipient(
                self._forwarder,
                self._state(envelope),
                recipient,
                route,
                as_spelt(server, rcpt_options),
            )
            return self._remote_reply(reply, session, envelope, recipient)
        if isinstance(route, NotLocal):
            if not self._submits(session):
                return rejected(replies.RELAY_DENIED, "RCPT", session, recipient=recipient)
            return await self._relay(session, envelope, recipient, as_spelt(server, rcpt_options))
        if isinstance(route, UnknownUser):
            self._note_refusal(
                replies.UNKNOWN_USER, "RCPT", session, envelope, [(recipient, route.tenant_id)]
            )
            return rejected(replies.UNKNOWN_USER, "RCPT", session, recipient=recipient)
        if isinstance(route, Outbound):
            if route.relay_host is not None and route.recipient == recipient:
                # A relay rule: the domain's mail goes on to its relay host, from anyone.
                transaction = self._state(envelope)
                transaction.remote[recipient] = replace(
                    remote_recipient(recipient, as_spelt(server, rcpt_options), route.tenant_id),
                    relay_host=route.relay_host,
                )
                transaction.tenants[recipient] = route.tenant_id
                envelope.rcpt_tos.append(recipient)
                return replies.RECIPIENT_OK
            if self._forwarder is not None:  # a forward: SRS and ARC, queued for the target
                reply = await forward_recipient(
                    self._forwarder,
                    self._state(envelope),
                    recipient,
                    route,
                    as_spelt(server, rcpt_options),
                    envelope.mail_from or "",
                    self._suppressions,
                )
                return self._remote_reply(reply, session, envelope, recipient)
            # No forwarder: 4xx, the sender keeps the message and retries.
            self._note_refusal(
                replies.ROUTED_ELSEWHERE, "RCPT", session, envelope, [(recipient, route.tenant_id)]
            )
            return rejected(replies.ROUTED_ELSEWHERE, "RCPT", session, recipient=recipient)
        if self._limits.declared_too_big(route.policy, envelope.mail_options):
            return rejected(replies.TOO_BIG_FOR_DOMAIN, "RCPT", session, recipient=recipient)
        # On the usage the cached route carries (up to smtp.recipient_cache_seconds old; see
        # architecture.md, quotas). An alias is full when any of its mailboxes is.
        targets = route.mailboxes if isinstance(route, AliasTargets) else (route.mailbox,)
        if any(is_full(mailbox, self._default_quota) for mailbox in targets):
            return rejected(replies.MAILBOX_FULL, "RCPT", session, recipient=recipient)
        # The tenant whose event log records what happens to this recipient.
        tenant_id = mailboxes_of(route)[0].tenant_id
        transaction = self._state(envelope)
        sender_check = transaction.sender_check
        if self._auth is not None and sender_check is not None:
            verdict = self._auth.policy.on_recipient(
                sender_check.spf, client_ip_of(session), domain_of(recipient), route.policy
            )
            refusal = replies.reply_for(verdict)
            if refusal is not None:
                self._note_refusal(refusal, "RCPT", session, envelope, [(recipient, tenant_id)])
                return rejected(
                    refusal, "RCPT", session, recipient=recipient, reason=verdict.reason
                )
        mail_from = envelope.mail_from or ""
        refusal = await envelope_refusal(
            self._hooks,
            HookPoint.RCPT_TO,
            session,
            "" if mail_from == NULL_SENDER else mail_from,
            (recipient,),
            () if tenant_id is None else (tenant_id,),
        )
        if refusal is not None:
            self._note_refusal(refusal, "RCPT", session, envelope, [(recipient, tenant_id)])
            return rejected(refusal, "RCPT", session, recipient=recipient)
        domain = domain_of(recipient)
        # The domain's allowance counts messages: its first recipient of a transaction.
        if domain not in transaction.policies and not self._limits.admit(domain, route.policy):
            self._note_refusal(
                replies.DOMAIN_RATE_LIMITED, "RCPT", session, envelope, [(recipient, tenant_id)]
            )
            return rejected(replies.DOMAIN_RATE_LIMITED, "RCPT", session, recipient=recipient)
        transaction.policies[domain] = route.policy
        if tenant_id is not None:
            transaction.tenants[recipient] = tenant_id
        envelope.rcpt_tos.append(recipient)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RECIPIENT_OK

    def _submits(self, session: Session) -> bool:
        """Whether the session is a submitter's: authenticated, and not a peer region."""
        if not session.authenticated:
            return False
        return self._peer_login is None or session.auth_data != self._peer_login

    async def _sender_refusal(self, session: Session, sender: str) -> str | None:
        """The sender rule after AUTH; an allowed sender is remembered for a while."""
        login = session.auth_data if isinstance(session.auth_data, str) else ""
        if self._submitters.sender_allowed(login, sender):
            return None
        refusal = await own_sender_refusal(self._directory, session, sender)
        if refusal is None:
            self._submitters.allow_sender(login, sender)
        return refusal

    async def _route(self, session: Session, recipient: str) -> Route:
        """The recipient's route: a fresh cached one, a submitter's domain known to be
        remote, else the directory's answer (in a thread). Raises StorageUnavailable."""
        route: Route | None = self._routes.cached(recipient)
        if route is not None:
            return route
        if self._submits(session) and self._submitters.is_remote(domain_of(recipient)):
            return NotLocal(domain_of(recipient))
        route = await asyncio.to_thread(self._routes.route, recipient)
        if isinstance(route, NotLocal) and self._submits(session):
            self._submitters.remote(route.domain)
        return route

    async def _relay(
        self, session: Session, envelope: SmtpEnvelope, recipient: str, rcpt_options: list[str]
    ) -> str:
        """An authenticated submitter's remote recipient: queued for outbound delivery."""
        try:
            tenant_id = await submitter_tenant(self._routes, session)
        except StorageUnavailable as error:
            log.warning("the tenant of %r could not be looked up: %r", session.auth_data, error)
            return rejected(replies.TEMP_FAILURE, "RCPT", session, recipient=recipient)
        if tenant_id is not None and self._suppression_checks is not None:
            try:
                found = await self._suppression_checks.suppressed(tenant_id, recipient)
            except StorageUnavailable as error:
                log.warning("suppression list of %s unreadable: %r", tenant_id, error)
                return rejected(replies.TEMP_FAILURE, "RCPT", session, recipient=recipient)
            if found is not None:
                reason = found.reason.value
                return rejected(
                    replies.recipient_suppressed(reason), "RCPT", session, recipient=recipient
                )
        transaction = self._state(envelope)
        transaction.remote[recipient] = remote_recipient(recipient, rcpt_options, tenant_id)
        if tenant_id is not None:
            transaction.tenants[recipient] = tenant_id
        envelope.rcpt_tos.append(recipient)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        """Check, hooks, stamp, spool: the 250 only once the message is durable. Logged
        under the message's id (its trace id), and timed when telemetry is on."""
        started = time.perf_counter()
        with message_context(self._state(envelope).id):
            reply = await self._handle_data(session, envelope)
        if self._telemetry is not None:
            self._telemetry.accepted(time.perf_counter() - started, reply)
        return reply

    async def _handle_data(self, session: Session, envelope: SmtpEnvelope) -> str:
        content = envelope.original_content or b""
        transaction = self._state(envelope)
        tenants = transaction.tenants.items()
        if not content or content.isspace():
            self._note_refusal(replies.EMPTY_MESSAGE, "DATA", session, envelope, tenants)
            return rejected(replies.EMPTY_MESSAGE, "DATA", session)
        if len(content) > self._limits.size_limit(transaction.policies.values()):
            self._note_refusal(replies.MESSAGE_TOO_BIG, "DATA", session, envelope, tenants)
            return rejected(replies.MESSAGE_TOO_BIG, "DATA", session, size=len(content))
        # Header and MIME limits: nothing past them reaches the spool, nor the parser.
        too_complex = content_refusal(content, self._content_limits)
        if too_complex is not None:
            self._note_refusal(too_complex, "DATA", session, envelope, tenants)
            return rejected(too_complex, "DATA", session, size=len(content))
        body = normalize_line_endings(content)
        header_id = header_message_id(body)
        try:
            body, auth_results, checked = await checked_data(
                self._auth,
                body,
                client_ip_of(session),
                envelope.rcpt_tos,
                transaction.policies,
                transaction.sender_check,
            )
        except CheckUnavailable as error:  # the checker pool is down: "later", never "ok"
            log.warning("message checks failed: %s", error)
            return rejected(replies.TEMP_FAILURE, "DATA", session)
        if self._telemetry is not None and auth_results is not None:
            self._telemetry.auth_checked(auth_results.summary_words())
        hooked = CONTINUE
        if self._hooks is not None and not checked.refuses:
            # Mail a user submits meets pre_send; mail from outside, pre_receive.
            point = HookPoint.PRE_SEND if self._submits(session) else HookPoint.PRE_RECEIVE
            try:
                hooked = await self._hooks.decide(
                    point,
                    accepted_envelope(session, envelope),
                    body,
                    set(transaction.tenants.values()),
                )
            except CheckUnavailable as error:  # the hooks cannot decide: "later", never "ok"
                log.warning("%s hooks could not run: %s", point.value, error)
                return rejected(replies.TEMP_FAILURE, "DATA", session)
        verdict = most_severe([checked, hooked])
        refusal = replies.reply_for(verdict)
        if refusal is not None:
            # A DMARC p=reject refusal keeps the results it was made on: the aggregate
            # reports we send count it (disposition reject), as they count stored mail.
            kept = auth_results if checked.refuses and checked.source is Source.DMARC else None
            self._note_refusal(refusal, "DATA", session, envelope, tenants, header_id, kept)
            return rejected(refusal, "DATA", session, reason=verdict.reason, by=verdict.source)
        if verdict.kind is VerdictKind.DISCARD:
            log.info("discarded by %s: %s", verdict.source or "policy", verdict.reason)
            return replies.DISCARDED
        if hooked.kind is VerdictKind.QUARANTINE:  # a hook's hold; DMARC's stays in Junk
            verdict = replace(verdict, annotations=verdict.annotations.quarantined())
        message, accepted = await self._stamp(session, envelope, body, verdict, transaction)
        if self._submits(session):  # RFC 6409 §8: a submission gets its missing Date, Message-ID
            message = completed_submission(message, accepted.received_at, self._settings.hostname)
            # The Message-ID it may just have got is the one its events and trace go by.
            header_id = header_id or header_message_id(message)
        if self._submits(session) and self._signer_for is not None:
            try:
                message = await self._signed(self._signer_for, message, accepted.mail_from)
            except StorageUnavailable as error:  # its keys cannot be read: "later"
                log.warning("DKIM keys unreadable: %r", error)
                return rejected(replies.TEMP_FAILURE, "DATA", session)
        if self._forwarder is not None and transaction.forwarded:
            try:
                message = await forwarded_message(
                    self._forwarder, transaction, message, accepted.mail_from, auth_results
                )
            except SrsError:  # a hook made the sender one SRS cannot rewrite
                return rejected(replies.SENDER_NOT_FORWARDABLE, "DATA", session)
            except ForwardingLoop as loop:
                log.warning("forwarding loop refused: %s", loop)
                return rejected(replies.FORWARDING_LOOP, "DATA", session)
            except StorageUnavailable as error:  # the sealing key cannot be read: "later"
                log.warning("ARC key unreadable: %r", error)
                return rejected(replies.TEMP_FAILURE, "DATA", session)
        return await self._commit(
            session, message, accepted, transaction, header_id, auth_results, verdict
        )

    async def _signed(self, signer_for: SignerLookup, message: bytes, mail_from: str) -> bytes:
        """``message`` DKIM-signed: at once when its signer is cached and it is small, else
        in a thread (the key lookup may read the store)."""
        if self._cached_signer_for is not None:
            signed = signed_from_cache(self._cached_signer_for, message, mail_from)
            if signed is not None:
                return signed
        return await asyncio.to_thread(signed_submission, signer_for, message, mail_from)

    async def _stamp(
        self,
        session: Session,
        envelope: SmtpEnvelope,
        body: bytes,
        verdict: Verdict,
        transaction: Transaction,
    ) -> tuple[bytes, Envelope]:
        """Step ``stamp``: the verdict's modifications (an added recipient only if it routes
        to a mailbox here) and our Received: header."""
        body = apply_to_headers(body, verdict.modifications)
        accepted = accepted_envelope(session, envelope)
        mail_from, wanted = apply_to_envelope(
            accepted.mail_from, accepted.rcpt_tos, verdict.modifications
        )
        recipients = [r for r in wanted if r in accepted.rcpt_tos or await self._routes_here(r)]
        for added in set(recipients) - set(accepted.rcpt_tos):
            route = self._routes.cached(added)
            if route is not None and not isinstance(route, Outbound):
                transaction.tenants[added] = mailboxes_of(route)[0].tenant_id
        if not recipients:  # every recipient removed: the message goes nowhere
            recipients = list(accepted.rcpt_tos)
            log.warning("a verdict removed every recipient; the envelope is kept as it came")
        accepted = replace(accepted, mail_from=mail_from, rcpt_tos=tuple(recipients))
        trace = received_header(
            helo=accepted.helo,
            client_ip=accepted.client_ip,
            hostname=self._settings.hostname,
            protocol=with_protocol(session, envelope),
            message_id=transaction.id,
            recipients=accepted.rcpt_tos,
            received_at=accepted.received_at,
        )
        return trace + body, accepted

    async def _routes_here(self, address: str) -> bool:
        """True when ``address`` routes into a mailbox here (a recipient a verdict adds)."""
        try:
            route: Route | None = self._routes.cached(address)
            if route is None:
                route = await asyncio.to_thread(self._routes.route, address)
        except StorageUnavailable:
            return False
        if isinstance(route, LocalMailbox | AliasTargets):
            return True
        log.warning("a verdict added %s, which does not route to a mailbox here: dropped", address)
        return False

    async def _commit(
        self,
        session: Session,
        message: bytes,
        accepted: Envelope,
        transaction: Transaction,
        header_id: str | None,
        auth_results: AuthResults | None,
        verdict: Verdict,
    ) -> str:
        """Step ``spool``: body and rows durable, then the 250 with the queue id."""
        tenants = transaction.tenants
        received = reception_events(
            transaction.id,
            header_id,
            {rcpt: tenants[rcpt] for rcpt in accepted.rcpt_tos if rcpt in tenants},
            accepted.received_at,
            reception_detail(accepted, len(message), auth_results, verdict),
        )
        if self._disk is not None and self._disk.low(len(message)):
            return rejected(replies.INSUFFICIENT_STORAGE, "DATA", session, size=len(message))
        try:
            ref = await self._spool.commit(
                message,
                accepted,
                message_id=transaction.id,
                auth_results=auth_results.to_json() if auth_results is not None else None,
                annotations=verdict.annotations,
                events=received,
                remote=tuple(
                    transaction.remote[rcpt]
                    for rcpt in accepted.rcpt_tos
                    if rcpt in transaction.remote
                ),
                **transaction.dsn,
            )
        except InsufficientStorage as error:
            log.warning("message from %s not accepted: %s", accepted.client_ip, error)
            return rejected(replies.INSUFFICIENT_STORAGE, "DATA", session, size=len(message))
        except StorageUnavailable as error:
            log.warning("message from %s not accepted: %s", accepted.client_ip, error)
            return rejected(replies.TEMP_FAILURE, "DATA", session, size=len(message))
        events.record(  # the one log line per accepted message
            events.RecordType.RECEPTION,
            message_id=ref.id,
            mail_from=accepted.mail_from,
            rcpt_count=len(accepted.rcpt_tos),
            size=ref.size,
            client=accepted.client_ip,
            authenticated_as=accepted.authenticated_as,
        )
        return replies.queued(ref.id)

    def _remote_reply(
        self, reply: str, session: Session, envelope: SmtpEnvelope, recipient: str
    ) -> str:
        """RCPT's answer for a forward or an SRS bounce: the recipient kept if accepted."""
        if reply != replies.RECIPIENT_OK:
            return rejected(reply, "RCPT", session, recipient=recipient)
        envelope.rcpt_tos.append(recipient)
        return reply

    def _state(self, envelope: SmtpEnvelope) -> Transaction:
        return self._open.setdefault(envelope, Transaction())

    def _note_refusal(
        self,
        reply: str,
        stage: str,
        session: Session,
        envelope: SmtpEnvelope,
        recipients: Iterable[tuple[str, str | None]],
        header_id: str | None = None,
        auth_results: AuthResults | None = None,
    ) -> None:
        """Keep a refusal in the event log of each local recipient's tenant, if any (with
        ``auth_results``: what the DMARC aggregate reports read of it)."""
        owned = [(rcpt, tenant) for rcpt, tenant in recipients if tenant is not None]
        if not owned:
            return
        mail_from = envelope.mail_from or ""
        detail: dict[str, Any] = {
            "stage": stage,
            "client": client_ip_of(session),
            "mail_from": "" if mail_from == NULL_SENDER else mail_from,
        }
        if auth_results is not None:
            detail["auth_results"] = auth_results.to_json()
        transaction_id = self._state(envelope).id
        self._spool.note_events(rejection_events(reply, owned, detail, transaction_id, header_id))

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):
            # The client's TLS handshake failed (garbage after STARTTLS, a hang-up, a
            # protocol it cannot speak): its problem, not a failure of ours.
            log.info("STARTTLS handshake failed: %r", error.__cause__ or error)
            return replies.TEMP_FAILURE
        # A bug or an outage we did not foresee: log it whole, tell the client to retry,
        # and never show it our exception text.
        log.error("SMTP session failed: %r", error, exc_info=error)
        return replies.TEMP_FAILURE
