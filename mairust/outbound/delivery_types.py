"""What the outbound delivery loop and what it drives share: a remote reply per recipient,
a message for one destination, and the protocols of the sender and of the bounce notices
(the SMTP sender and the DSN builder implement them; tests and other transports may too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mairust.model.message import MessageRef
from mairust.model.outbound import OutboundItem

_MAX_REPLY_CHARS = 500


@dataclass(frozen=True, slots=True)
class RemoteReply:
    """What a remote MTA (or our side, for a failure before any reply) said about one
    recipient; ``host``/``address`` say which server answered, when one did."""

    code: int
    enhanced: str | None
    text: str
    host: str | None = None
    address: str | None = None

    @property
    def delivered(self) -> bool:
        return 200 <= self.code < 300

    @property
    def permanent(self) -> bool:
        return self.code >= 500

    def __str__(self) -> str:
        words = " ".join(part for part in (self.enhanced, self.text) if part)
        return f"{self.code} {words}"[:_MAX_REPLY_CHARS]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message for one destination: its bytes (signed and normalised already), the
    reverse path, and the leased rows of its recipients there."""

    ref: MessageRef
    mail_from: str
    recipients: tuple[OutboundItem, ...]
    content: bytes


class DestinationSender(Protocol):
    async def send(
        self,
        destination: str,
        relay_host: str | None,
        messages: Sequence[OutgoingMessage],
        *,
        source_address: str | None = None,
    ) -> dict[int, RemoteReply]:
        """Send ``messages`` over one session to ``destination`` (its MX hosts, or
        ``relay_host``), from ``source_address`` when given (a pool's), and return a
        reply per recipient row id. A row missing from the
        answer counts as a temporary failure; nothing may raise for a remote fault (a DNS
        failure or refused connection is a reply for every row: 4xx or 5xx)."""
        ...

    async def close_idle(self) -> None:
        """Close connections kept open past their idle time (called every round)."""
        ...


class BounceNotices(Protocol):
    def notice(
        self,
        original: bytes,
        bounced: Sequence[tuple[OutboundItem, RemoteReply, bool]],
        now: datetime,
    ) -> bytes | None:
        """The DSN (RFC 3464, CRLF) for one message's ``bounced`` recipients — (row, the
        last reply, expired) — or None when none is owed (NOTIFY=NEVER, a null reverse
        path)."""
        ...

    def delay_notice(
        self,
        original: bytes,
        delayed: Sequence[tuple[OutboundItem, RemoteReply, datetime]],
        now: datetime,
    ) -> bytes | None:
        """The "delayed" DSN (RFC 3464, CRLF) for one message's ``delayed`` recipients —
        (row, the last reply, until when it is retried) — whose NOTIFY the caller found
        asks for one; None when none can be made (a null reverse path)."""
        ...


# The bounce class of a reply (mailbox_full, unknown_user, ...); None: not classified.
BounceClassifier = Callable[[RemoteReply], str | None]
# Whether an address is one of our own (a DSN to it goes to the local queue).
LocalAddress = Callable[[str], bool]
Clock = Callable[[], datetime]
