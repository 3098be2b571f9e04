"""Who the inbound handler asks for a decision: the authentication checks with their policy
(``InboundAuth``), and what decides at the end of DATA before the 250 (``PreReceive``, the
hook manager's entry). Each answers with a ``Verdict``."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from aiosmtpd.smtp import Session

from mairust.auth.policy import AuthPolicy
from mairust.auth.service import AuthService
from mairust.model.message import Envelope
from mairust.model.verdict import Verdict
from mairust.smtp.transaction import client_ip_of


class PreReceive(Protocol):
    """What decides about a message at the end of DATA, before the 250: the body as
    checked (our Authentication-Results on top), the envelope as received, and the tenants
    of its local recipients."""

    async def __call__(
        self, message: bytes, envelope: Envelope, tenants: Collection[str]
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
