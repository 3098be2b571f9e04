"""Sending a message through the API: who may send as whom, to whom, and the spool commit.

``POST /api/v1/send`` calls :meth:`SendService.send`. The rules, in the order they are
checked (each refusal changes nothing, invariant 7):

1. the caller's token holds the ``send`` permission;
2. the composition is valid and within ``api.max_send_size``;
3. the From address is one the caller may send as: a ``user`` only their own mailbox's
   address (another address of their tenant is a 403), a ``tenant_admin`` any address in
   their tenant's domains, the platform admin any address in a local domain. A From
   domain outside the caller's reach answers like a missing one (404, invariant 5); the
   domain part is the rule SMTP submission applies (``mairust.routing.senders``);
4. every recipient is a local mailbox, or remote (another domain, or one of ours a relay
   rule sends to its relay host), or forwarded (one of ours a rule forwards off the
   platform): remote and forwarded ones are queued for outbound delivery; an unknown
   local recipient refuses the whole message with a 422 naming them, and so does a remote
   one on the sending tenant's suppression list (a forward's target: on the forwarding
   domain's tenant's list, with the reason it was suppressed for), and a forward when
   ``[forwarding]`` is off. A forward behaves as on the SMTP path
   (:mod:`mairust.smtp.forwarding`): queued for the rule's target, standing for the
   forwarding address (its ORCPT), with the SRS address of the sender as it stands after
   the hooks as its reverse path, and the message ARC-sealed for the first forwarding
   address's domain after DKIM signing (its AAR names no results: no checks ran on it);
5. with ``unsubscribe``, the message must have exactly one recipient, a remote one, and
   the server an ``unsubscribe.base_url`` (else a 422): it gets the RFC 8058 pair
   ``List-Unsubscribe`` / ``List-Unsubscribe-Post`` with a signed link naming that
   recipient in its tenant (:mod:`mairust.outbound.unsubscribe`; one link per message, so
   one recipient, or each could unsubscribe the others);
6. the message is composed and stamped with our ``Received:`` trace header naming the
   API and the principal; the ``pre_send`` hooks are asked about it (a refusal or a
   discard is a 422 naming the plugin's reply, a tempfail or hooks that cannot decide a
   503; a quarantine holds the message in the recipients' Quarantine; their header and
   envelope edits and annotations are applied, an added recipient only if it routes to a
   mailbox here); it is DKIM-signed for its From domain (when that has keys); it is
   committed through the same
   :class:`~mairust.spool.Spool` as SMTP mail, with a Reception event per recipient in
   its tenant (the sender's for remote ones; ``detail.via = "api"``) in the same
   transaction, so the event log and the message trace show it as they show SMTP mail.
   The answer comes only after the spool commit (the 250 promise, invariant 1); a store
   that cannot make it durable is :class:`StorageUnavailable` (a 503).

The pipeline then delivers it like any accepted message: the dispatcher leases the new
queue rows (woken by the spool's commit listener where one is wired, else at its next
poll) and the workers store and index it in each recipient's mailbox; the outbound
delivery loop sends it to the remote recipients.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple, Protocol

from mairust import events
from mairust.config import ApiSettings, Settings, SmtpSettings, UnsubscribeSettings
from mairust.errors import (
    CheckUnavailable,
    Forbidden,
    InvalidInput,
    NotFound,
    StorageUnavailable,
)
from mairust.hooks.points import HookPoint
from mairust.model.address import domain_of, normalize_address
from mairust.model.annotations import Annotations
from mairust.model.compose import ComposedMessage, Composition, compose
from mairust.model.ids import new_id
from mairust.model.message import Envelope
from mairust.model.modifications import apply_to_envelope, apply_to_headers
from mairust.model.outbound import RemoteRecipient
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.model.threads import normalised_msg_id
from mairust.model.verdict import CONTINUE, VerdictKind
from mairust.outbound.forwarding import Forwarder, forwarding_orcpt
from mairust.outbound.signing import SignerLookup, signed_submission
from mairust.outbound.srs import SrsError
from mairust.outbound.unsubscribe import (
    UnsubscribeTokens,
    unsubscribe_headers,
    unsubscribe_link,
)
from mairust.routing.router import (
    AliasTargets,
    Directory,
    LocalMailbox,
    NotLocal,
    Outbound,
    mailboxes_of,
    route_recipient,
)
from mairust.routing.senders import sender_refusal
from mairust.services.access import require
from mairust.services.audit import Clock, utc_now
from mairust.services.suppressions import RecipientsSuppressed
from mairust.smtp.deciders import EdgeHooks
from mairust.smtp.event_records import reception_detail, reception_events
from mairust.smtp.replies import reply_for
from mairust.spool import Spool
from mairust.storage.protocols import SuppressionStore

log = logging.getLogger(__name__)

# The Received: "with" keyword for mail handed in over the REST API (RFC 5321 §4.4 allows
# any atom; the registered ones all name SMTP variants).
WITH_PROTOCOL = "HTTP"
# What of a principal's name or address may appear inside a Received: comment.
_UNSAFE_COMMENT_CHAR = re.compile(r"[^A-Za-z0-9.:_@+-]")


class CompositionSource(Protocol):
    """A parsed request that becomes a Composition once the size cap is known
    (:class:`mairust.api.schemas_send.SendRequest`)."""

    def to_composition(self, *, max_size: int) -> Composition: ...


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """The settings sending needs (from ``smtp.hostname``, ``api.max_send_size`` and
    ``[unsubscribe]``)."""

    hostname: str
    max_send_size: int
    # Where one-click unsubscribe links point (empty: the option is refused), and how
    # long they work.
    unsubscribe_base_url: str = ""
    unsubscribe_seconds: float = UnsubscribeSettings().token_days * 86400

    @classmethod
    def from_settings(cls, settings: Settings) -> SendPolicy:
        return cls(
            hostname=settings.smtp.hostname,
            max_send_size=settings.api.max_send_size,
            unsubscribe_base_url=settings.unsubscribe.base_url,
            unsubscribe_seconds=settings.unsubscribe.token_days * 86400,
        )

    @classmethod
    def defaults(cls) -> SendPolicy:
        """The configuration's defaults (read from no file and no environment)."""
        return cls(hostname=SmtpSettings().hostname, max_send_size=ApiSettings().max_send_size)


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """A message accepted for delivery: durable in the spool, queued per recipient."""

    queue_id: str
    # The Message-ID header's value, angle brackets included.
    message_id: str
    recipients: tuple[str, ...]
    size: int


class RecipientsNotLocal(InvalidInput):
    """Recipients that cannot be delivered (a 422); nothing was stored."""

    def __init__(self, forwarded: tuple[str, ...], unknown: tuple[str, ...]) -> None:
        self.forwarded = forwarded
        self.unknown = unknown
        parts = []
        if forwarded:
            parts.append(
                "forwarding to another server is off on this server; recipients a routing "
                f"rule forwards: {', '.join(forwarded)}"
            )
        if unknown:
            parts.append(f"no such local mailbox: {', '.join(unknown)}")
        super().__init__("; ".join(parts) + ". Nothing was sent.")


class SendRefused(InvalidInput):
    """The ``pre_send`` hooks refused the message."""


SentObserver = Callable[[Principal, SendReceipt, Envelope], None]
"""Told about every accepted send, after the spool commit (must be cheap, must not raise)."""


def log_reception(principal: Principal, receipt: SendReceipt, envelope: Envelope) -> None:
    """The default observer: the one Reception log record per accepted message, as SMTP
    logs it (the tenants' Reception events are written with the spool commit)."""
    events.record(
        events.RecordType.RECEPTION,
        message_id=receipt.queue_id,
        mail_from=envelope.mail_from,
        rcpt_count=len(receipt.recipients),
        size=receipt.size,
        client=envelope.client_ip,
        authenticated_as=envelope.authenticated_as,
        via="api",
        tenant=principal.tenant_id or "",
    )


class _Prepared(NamedTuple):
    queue_id: str
    envelope: Envelope
    content: bytes
    composed: ComposedMessage
    remote: dict[str, RemoteRecipient]
    tenants: dict[str, str]  # recipient -> the tenant its Reception event belongs to


class SendService:
    def __init__(
        self,
        directory: Directory,
        spool: Spool,
        policy: SendPolicy,
        clock: Clock = utc_now,
        observer: SentObserver = log_reception,
        hooks: EdgeHooks | None = None,
        suppressions: SuppressionStore | None = None,
        signer_for: SignerLookup | None = None,
        unsubscribe_tokens: UnsubscribeTokens | None = None,
        forwarder: Forwarder | None = None,
    ) -> None:
        """``unsubscribe_tokens`` sign one-click unsubscribe links (None: the option is
        refused); ``forwarder`` rewrites and seals what routing rules forward off the
        platform (None: forwarding is off, such recipients are a 422)."""
        self._unsubscribe_tokens = unsubscribe_tokens
        self._forwarder = forwarder
        self._hooks = hooks
        self._signer_for = signer_for
        self._suppressions = suppressions
        self._directory = directory
        self._spool = spool
        self._policy = policy
        self._clock = clock
        self._observer = observer

    @property
    def max_send_size(self) -> int:
        return self._policy.max_send_size

    async def send(self, principal: Principal, request: CompositionSource) -> SendReceipt:
        """Compose and durably accept the message ``request`` describes (see the module)."""
        require(principal, Permission.SEND)
        # Decoding attachments, reading the directory and building MIME block or take CPU
        # in proportion to the message: one hop to a thread for all of it, off the loop.
        prepared = await asyncio.to_thread(self._prepare, principal, request)
        queue_id, envelope, content, composed, remote, tenants = prepared
        content, envelope, annotations, added = await self._pre_send(principal, envelope, content)
        tenants = {**tenants, **added}
        if composed.unsubscribe and envelope.rcpt_tos != composed.recipients:
            # The link names its one recipient: nobody else may get it.
            raise SendRefused(
                "the pre_send hooks changed the recipients of a message with an unsubscribe "
                "link. Nothing was sent."
            )
        if self._signer_for is not None:  # after the hooks' edits, before the commit
            content = await asyncio.to_thread(
                signed_submission, self._signer_for, content, envelope.mail_from
            )
        forwards = [r for r in envelope.rcpt_tos if r in remote and remote[r].envelope_recipient]
        if forwards:  # after signing, as at SMTP DATA: the seal covers the signature
            content, remote = await asyncio.to_thread(
                self._forwarded, content, envelope.mail_from, forwards, remote
            )
        # Each recipient's Reception in its tenant (the sender's for remote ones; a mailbox a
        # pre_send hook added, its own), as SMTP records them, so the message trace and the
        # event log see mail sent over the API.
        received = reception_events(
            queue_id,
            normalised_msg_id(composed.message_id),
            {r: tenants[r] for r in envelope.rcpt_tos if r in tenants},
            envelope.received_at,
            reception_detail(
                envelope, len(content), None, replace(CONTINUE, annotations=annotations)
            )
            | {"via": "api"},
        )
        # Raises StorageUnavailable unless blob and rows are durable: no receipt before that.
        ref = await self._spool.commit(
            content,
            envelope,
            message_id=queue_id,
            annotations=annotations,
            events=received,
            remote=[remote[r] for r in envelope.rcpt_tos if r in remote],
        )
        receipt = SendReceipt(
            queue_id=ref.id,
            message_id=composed.message_id,
            recipients=envelope.rcpt_tos,
            size=ref.size,
        )
        try:
            self._observer(principal, receipt, envelope)
        except Exception:
            # The message is durable and will be delivered: the answer must say so.
            log.exception("send: observer failed for %s", receipt.queue_id)
        return receipt

    def _forwarded(
        self,
        content: bytes,
        mail_from: str,
        forwards: list[str],
        remote: dict[str, RemoteRecipient],
    ) -> tuple[bytes, dict[str, RemoteRecipient]]:
        """The forwards' SRS reverse paths made from ``mail_from`` as it stands after the
        hooks, and ``content`` ARC-sealed (one set per hop, for the first forward's domain)."""
        assert self._forwarder is not None  # a forward is queued only with a forwarder
        try:
            rewritten = {
                rcpt: replace(remote[rcpt], mail_from=self._forwarder.return_path(mail_from, rcpt))
                for rcpt in forwards
            }
        except SrsError as error:
            raise InvalidInput(
                f"the sender cannot be rewritten for forwarding ({error}). Nothing was sent."
            ) from None
        sealed = self._forwarder.sealed(content, domain_of(forwards[0]), None)
        return sealed, {**remote, **rewritten}

    async def _pre_send(
        self, principal: Principal, envelope: Envelope, content: bytes
    ) -> tuple[bytes, Envelope, Annotations, dict[str, str]]:
        """The ``pre_send`` hooks' verdict on the message, applied (see the module); with
        the tenant of each recipient it added (a mailbox here: any other is dropped)."""
        if self._hooks is None:
            return content, envelope, Annotations(), {}
        tenants = (principal.tenant_id,) if principal.tenant_id is not None else ()
        try:
            verdict = await self._hooks.decide(HookPoint.PRE_SEND, envelope, content, tenants)
        except CheckUnavailable as error:
            raise StorageUnavailable(f"the pre_send hooks cannot decide now: {error}") from None
        refusal = reply_for(verdict)
        if verdict.kind is VerdictKind.TEMPFAIL:
            raise StorageUnavailable(f"deferred by {verdict.source or 'policy'}: {refusal}")
        if refusal is not None or verdict.kind is VerdictKind.DISCARD:
            why = refusal or f"discarded: {verdict.reason or 'by policy'}"
            raise SendRefused(f"refused by {verdict.source or 'policy'}: {why}. Nothing was sent.")
        content = apply_to_headers(content, verdict.modifications)
        mail_from, wanted = apply_to_envelope(
            envelope.mail_from, envelope.rcpt_tos, verdict.modifications
        )
        added: dict[str, str] = {}
        for recipient in wanted:
            if recipient not in envelope.rcpt_tos and recipient not in added:
                tenant_id = await self._tenant_here(recipient)
                if tenant_id is not None:
                    added[recipient] = tenant_id
        recipients = tuple(r for r in wanted if r in envelope.rcpt_tos or r in added)
        if not recipients:
            raise SendRefused("the pre_send hooks removed every recipient. Nothing was sent.")
        annotations = verdict.annotations
        if verdict.kind is VerdictKind.QUARANTINE:  # held, as a pre_receive hold over SMTP
            annotations = annotations.quarantined()
        changed = replace(envelope, mail_from=mail_from, rcpt_tos=recipients)
        return content, changed, annotations, added

    async def _tenant_here(self, address: str) -> str | None:
        """The tenant of the mailbox ``address`` routes to here (None: it routes to none)."""
        route = await asyncio.to_thread(route_recipient, self._directory, address)
        if isinstance(route, LocalMailbox | AliasTargets):
            return mailboxes_of(route)[0].tenant_id
        log.warning("a pre_send verdict added %s, which routes to no mailbox here", address)
        return None

    def _prepare(self, principal: Principal, request: CompositionSource) -> _Prepared:
        """The checks of the module's steps 2 to 5, then the bytes to commit."""
        composition = request.to_composition(max_size=self._policy.max_send_size)
        remote, local_tenants = self._check_addresses(principal, composition)
        unsubscribe = self._unsubscribe_headers(composition, remote)
        queue_id = new_id()
        now = self._clock()
        composed = compose(
            composition, unique_id=queue_id, now=now, unsubscribe_headers=unsubscribe
        )
        envelope = Envelope(
            mail_from=composed.mail_from,
            rcpt_tos=composed.recipients,
            received_at=now,
            helo="api",
            client_ip=principal.source,
            authenticated_as=principal.actor,
        )
        trace = received_header(principal, composed, queue_id, self._policy.hostname, now)
        tenants = {r: q.tenant_id for r, q in remote.items() if q.tenant_id is not None}
        return _Prepared(
            queue_id, envelope, trace + composed.content, composed, remote, local_tenants | tenants
        )

    def _unsubscribe_headers(
        self, composition: Composition, remote: dict[str, RemoteRecipient]
    ) -> tuple[tuple[str, str], ...]:
        """The List-Unsubscribe pair when the composition asks for it: a link naming its
        one remote recipient in the tenant whose suppression list sending checks."""
        if not composition.unsubscribe:
            return ()
        base_url = self._policy.unsubscribe_base_url
        if not base_url or self._unsubscribe_tokens is None:
            raise InvalidInput(
                "unsubscribe links are not available: this server has no unsubscribe.base_url"
            )
        recipients = composition.recipients
        if len(recipients) != 1:
            # One commit serves every recipient: a shared link would let each unsubscribe
            # the others.
            raise InvalidInput("`unsubscribe` needs exactly one recipient")
        target = remote.get(recipients[0])
        if target is None or target.tenant_id is None or target.envelope_recipient is not None:
            raise InvalidInput(
                "`unsubscribe` is for a remote recipient (a suppression list "
                "applies to mail sent out)"
            )
        token = self._unsubscribe_tokens.issue(
            target.tenant_id, target.address, self._policy.unsubscribe_seconds
        )
        return unsubscribe_headers(unsubscribe_link(base_url, token))

    def _check_addresses(
        self, principal: Principal, composition: Composition
    ) -> tuple[dict[str, RemoteRecipient], dict[str, str]]:
        """The sender rule, then each recipient's route: the remote ones returned (for the
        outbound queue) and the local ones' tenants; unknown or forwarded ones refuse the
        message."""
        # The sending domain's tenant owns what happens to the remote recipients.
        sender_tenant = self._check_sender(
            principal, normalize_address(composition.from_addr.address)
        )
        remote: dict[str, RemoteRecipient] = {}
        local_tenants: dict[str, str] = {}
        forwarded: list[str] = []
        unknown: list[str] = []
        for recipient in composition.recipients:
            route = route_recipient(self._directory, recipient)
            match route:
                case NotLocal():
                    remote[recipient] = RemoteRecipient(recipient, sender_tenant)
                case Outbound(relay_host=str(host), recipient=target) if target == recipient:
                    remote[recipient] = RemoteRecipient(recipient, route.tenant_id, host)
                case Outbound(recipient=target) if self._forwarder is not None:
                    # A forward, queued for the rule's target in the forwarding domain's
                    # tenant; its reverse path is made once the hooks have had their say.
                    remote[recipient] = RemoteRecipient(
                        target,
                        route.tenant_id,
                        orcpt=forwarding_orcpt(recipient),
                        envelope_recipient=recipient,
                    )
                case Outbound():
                    forwarded.append(recipient)
                case LocalMailbox() | AliasTargets():
                    local_tenants[recipient] = mailboxes_of(route)[0].tenant_id
                case _:
                    unknown.append(recipient)
        if forwarded or unknown:
            raise RecipientsNotLocal(tuple(forwarded), tuple(unknown))
        if remote and self._suppressions is not None:
            direct = [rcpt for rcpt, queued in remote.items() if queued.envelope_recipient is None]
            found = self._suppressions.suppressed(sender_tenant, direct) if direct else {}
            for queued in remote.values():
                # A forward's target on its forwarding tenant's list, as at SMTP RCPT.
                if queued.envelope_recipient is not None and queued.tenant_id is not None:
                    found |= self._suppressions.suppressed(queued.tenant_id, [queued.address])
            if found:
                raise RecipientsSuppressed(found)
        return remote, local_tenants

    def _check_sender(self, principal: Principal, sender: str) -> str:
        """The tenant of ``sender``'s domain if ``principal`` may send as ``sender``;
        NotFound or Forbidden otherwise."""
        # The rule SMTP submission applies to MAIL FROM as well (one function for both).
        domain = self._directory.get_domain(domain_of(sender))
        refused = sender_refusal(self._directory, sender, tenant_id=principal.tenant_id)
        if domain is None or refused is not None:
            # A domain of another tenant answers exactly like one that is not local at all.
            raise NotFound(f"no domain {domain_of(sender)!r} you may send from")
        if principal.role is not Role.USER:
            return domain.tenant_id
        scope = principal.scope
        assert isinstance(scope, TenantScope) and scope.mailbox_id is not None
        own = self._directory.find_mailbox(sender)
        if own is None or own.id != scope.mailbox_id:
            raise Forbidden("a user may send only as their own address")
        return domain.tenant_id


def received_header(
    principal: Principal,
    composed: ComposedMessage,
    queue_id: str,
    hostname: str,
    now: datetime,
) -> bytes:
    """Our trace header for mail handed in over the API: who (the principal, and where
    from) and how (HTTP), folded, ending in CRLF. Names one recipient only, so a
    multi-recipient header never discloses the Bcc's."""
    actor = _UNSAFE_COMMENT_CHAR.sub("?", principal.actor)[:128] or "unknown"
    lines = [
        f"Received: from api {_client_text(principal.source)}",
        f"\t(MaiRust API, authenticated as {actor} role {principal.role.value})",
        f"\tby {hostname} (MaiRust) with {WITH_PROTOCOL} id {queue_id}",
    ]
    date = email.utils.format_datetime(now)
    if len(composed.recipients) == 1 and composed.recipients[0].isascii():
        lines.append(f"\tfor <{composed.recipients[0]}>; {date}")
    else:
        lines[-1] += ";"
        lines.append(f"\t{date}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _client_text(source: str) -> str:
    """The client as an address literal when it is an IP address, else as a comment."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return f"({_UNSAFE_COMMENT_CHAR.sub('?', source)[:64] or 'unknown'})"
    return f"([IPv6:{address}])" if address.version == 6 else f"([{address}])"
