"""Who the inbound handler asks for a decision: the authentication checks with their policy
(``InboundAuth``, and DATA's ``check`` step over it), and the hook points of the SMTP edge
(``EdgeHooks``, the hook runtime's entry; ``envelope_refusal`` asks them at MAIL and RCPT).
Each answers with a ``Verdict``. And the sender rule after AUTH (``own_sender_refusal``),
which answers with the reply itself."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiosmtpd.smtp import Session

from mairust.auth.checker import SenderCheck
from mairust.auth.headers import authentication_results, prepend_header, strip_forged_results
from mairust.auth.policy import AuthPolicy
from mairust.auth.results import AuthResults
from mairust.auth.service import AuthService
from mairust.errors import CheckUnavailable, StorageUnavailable
from mairust.hooks.points import HookPoint
from mairust.model.address import domain_of
from mairust.model.message import Envelope
from mairust.model.parsing import without_controls
from mairust.model.policy import DomainPolicy
from mairust.model.verdict import CONTINUE, Verdict
from mairust.routing.router import Directory
from mairust.routing.senders import SenderRefusal, login_sender_refusal
from mairust.smtp import replies
from mairust.smtp.transaction import NULL_SENDER, client_ip_of

log = logging.getLogger(__name__)


class EdgeHooks(Protocol):
    """The hook points the SMTP edge asks: ``mail_from`` and ``rcpt_to`` with the envelope
    so far (only a refusal applies there), ``pre_receive`` with the message as checked (our
    Authentication-Results on top) before the 250. ``tenants``: of the local recipients.
    CheckUnavailable when the point cannot be decided."""

    async def decide(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None,
        tenants: Collection[str],
    ) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class InboundAuth:
    """Everything the handler needs to authenticate senders: the checks and the policy."""

    service: AuthService
    policy: AuthPolicy
    authserv_id: str

    def checks(self, session: Session) -> bool:
        """Mail from trusted networks and from authenticated users is not checked."""
        return not session.authenticated and not self.policy.skips(client_ip_of(session))


async def checked_data(
    auth: InboundAuth | None,
    body: bytes,
    client_ip: str,
    recipients: Iterable[str],
    policies: Mapping[str, DomainPolicy],
    sender_check: SenderCheck | None = None,
) -> tuple[bytes, AuthResults | None, Verdict]:
    """DATA's step ``check``: DKIM, DMARC and ARC on the body, the auth policy's verdict,
    and our Authentication-Results header in place of any forged one."""
    if auth is None:
        return body, None, CONTINUE
    results: AuthResults | None = None
    verdict = CONTINUE
    if sender_check is not None:
        results = await auth.service.check_message(body, sender_check)
        verdict = auth.policy.on_message(
            results, client_ip, {domain_of(r) for r in recipients}, policies
        )
    # Nobody else may speak for our authserv-id (RFC 8601 §5), checked or not.
    body = strip_forged_results(body, auth.authserv_id)
    if results is not None:
        body = prepend_header(
            body, "Authentication-Results", authentication_results(auth.authserv_id, results)
        )
    return body, results, verdict


async def envelope_refusal(
    hooks: EdgeHooks | None,
    point: HookPoint,
    session: Session,
    mail_from: str,
    recipients: tuple[str, ...],
    tenants: tuple[str, ...],
    *,
    helo: str | None = None,
) -> str | None:
    """The refusal the hooks at an envelope command answer, if any: only a refusal applies
    there (what else a verdict carries belongs to a message). 451 when they cannot decide.
    ``helo``: the name being given now (at ``connect``, before the session has one)."""
    if hooks is None:
        return None
    envelope = Envelope(
        mail_from=mail_from,
        rcpt_tos=recipients,
        received_at=datetime.now(UTC),
        helo=without_controls(session.host_name or "" if helo is None else helo),
        client_ip=client_ip_of(session),
        authenticated_as=session.auth_data if isinstance(session.auth_data, str) else None,
    )
    try:
        verdict = await hooks.decide(point, envelope, None, tenants)
    except CheckUnavailable as error:
        log.warning("%s hooks could not run: %s", point.value, error)
        return replies.TEMP_FAILURE
    return replies.reply_for(verdict)


async def own_sender_refusal(directory: Directory, session: Session, sender: str) -> str | None:
    """The reply refusing an authenticated client's MAIL FROM (``sender``, ``"<>"`` for the
    null sender) outside its tenant's domains; None when it is the client's to use. The
    rule is the one the send API applies (``mairust.routing.senders``)."""
    login = session.auth_data if isinstance(session.auth_data, str) else ""
    address = "" if sender == NULL_SENDER else sender
    try:
        refusal = await asyncio.to_thread(login_sender_refusal, directory, login, address)
    except StorageUnavailable as error:
        log.warning("sender <%s> of %r could not be checked: %s", address, login, error)
        return replies.TEMP_FAILURE
    if refusal is None:
        return None
    if refusal is SenderRefusal.NULL_SENDER:
        return replies.NULL_SENDER_NOT_ALLOWED
    return replies.SENDER_NOT_OWNED
