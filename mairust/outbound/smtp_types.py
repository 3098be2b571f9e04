"""The value objects of an outbound SMTP session: replies, peer capabilities, settings,
what to send and what came of it per recipient.

Kept apart from the session (``smtp_client.py``) so the delivery loop, the trace and the DSN
writer can read results without importing the wire code.
"""

from __future__ import annotations

import enum
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mairust.config import OutboundSettings
from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.mx import Endpoint

_ENHANCED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?:\s+|$)")

# Where in the session a recipient's outcome was decided (for the trace and bounce classes).
Stage = Literal["connect", "mail", "rcpt", "data", "content", "session"]


class SmtpProtocolError(DeliveryFailure):
    """The peer sent something that is not an SMTP reply."""

    default_code = "4.5.0"


class ConnectionFailure(DeliveryFailure):
    """No session could be had with an endpoint (refused, timed out, a 4xx/5xx greeting)."""

    default_code = "4.4.1"


class ConnectionLost(DeliveryFailure):
    """The peer went away or stopped answering in the middle of a session."""

    default_code = "4.4.2"


class TlsNotOffered(DeliveryFailure):
    """TLS is required and the peer does not offer (or refuses) STARTTLS."""

    default_code = "4.7.4"


class TlsHandshakeFailed(DeliveryFailure):
    """TLS is required and the handshake failed."""

    default_code = "4.7.5"


class AuthenticationFailed(DeliveryFailure):
    """The relay refused our credentials (535), or offers no mechanism we speak.

    Temporary on purpose: the credentials are the operator's configuration, not the
    recipient's fault; bouncing the queue over a mistyped or rotated password would lose
    mail an operator can still save. The message waits (the reason in its trace) until
    the credentials are fixed or it expires.
    """

    default_code = "4.7.8"


class SizeExceeded(DeliveryFailure):
    """The message is larger than the peer's declared SIZE limit (RFC 1870)."""

    default_code = "5.3.4"


class SessionUnavailable(DeliveryFailure):
    """No endpoint gave a usable session; ``attempts`` says what each one did."""

    def __init__(
        self, message: str, *, enhanced_code: str, attempts: tuple[tuple[Endpoint, str], ...]
    ) -> None:
        super().__init__(message, enhanced_code=enhanced_code)
        self.attempts = attempts
        self.endpoint = attempts[-1][0] if attempts else None


@dataclass(frozen=True, slots=True)
class Reply:
    """One (multi-line) reply. ``from_peer`` False: made up here for a local failure
    (a timeout, a lost connection, a message the peer cannot take)."""

    code: int
    text: str  # the lines' texts joined by "\n", the enhanced code taken off the first
    enhanced_code: str | None = None
    from_peer: bool = True

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 400

    @property
    def permanent(self) -> bool:
        return self.code >= 500

    @property
    def status(self) -> str:
        """The enhanced status code, or the class's generic one (RFC 3463 X.0.0)."""
        return self.enhanced_code or f"{str(self.code)[0]}.0.0"

    def __str__(self) -> str:
        prefix = f"{self.code} {self.enhanced_code} " if self.enhanced_code else f"{self.code} "
        return prefix + self.text.replace("\n", " / ")

    @classmethod
    def parse(cls, lines: Sequence[str]) -> Reply:
        """The reply made of ``lines`` (CRLF removed); SmtpProtocolError if malformed."""
        if not lines:
            raise SmtpProtocolError("empty reply")
        codes = {line[:3] for line in lines}
        code_text = lines[0][:3]
        if len(codes) != 1 or not code_text.isdigit() or not "2" <= code_text[0] <= "5":
            raise SmtpProtocolError(f"not an SMTP reply: {lines[0][:80]!r}")
        texts = [line[4:] for line in lines]
        enhanced = None
        match = _ENHANCED.match(texts[0])
        # RFC 2034 §4: the enhanced code's class matches the reply's first digit, and
        # every line of a multi-line reply starts with it: keep the text without it.
        if match and match.group(1) == code_text[0]:
            enhanced = ".".join(match.group(1, 2, 3))
            texts = [_without_code(text, enhanced) for text in texts]
        return cls(code=int(code_text), text="\n".join(texts), enhanced_code=enhanced)

    @classmethod
    def local(cls, failure: DeliveryFailure) -> Reply:
        return cls(
            code=failure.smtp_code,
            text=str(failure),
            enhanced_code=failure.enhanced_code,
            from_peer=False,
        )


def _without_code(text: str, enhanced: str) -> str:
    match = _ENHANCED.match(text)
    if match and ".".join(match.group(1, 2, 3)) == enhanced:
        return text[match.end() :]
    return text


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the peer's EHLO reply offers (RFC 5321 §4.1.1.1); none after HELO."""

    esmtp: bool
    keywords: frozenset[str]
    size_limit: int | None  # None: SIZE not offered; 0: offered without a fixed limit
    auth_mechanisms: frozenset[str] = frozenset()  # AUTH's parameters (RFC 4954), upper-case

    @classmethod
    def from_ehlo(cls, reply: Reply) -> Capabilities:
        keywords: set[str] = set()
        size: int | None = None
        mechanisms: set[str] = set()
        for line in reply.text.split("\n")[1:]:  # the first line is the server's name
            keyword, _, params = line.strip().partition(" ")
            keyword = keyword.upper()
            if not keyword:
                continue  # smtp-sink ends its list with a bare "250 "
            keywords.add(keyword)
            if keyword == "SIZE":
                size = int(params) if params.strip().isdigit() else 0
            elif keyword == "AUTH":
                mechanisms.update(params.upper().split())
        return cls(
            esmtp=True,
            keywords=frozenset(keywords),
            size_limit=size,
            auth_mechanisms=frozenset(mechanisms),
        )

    @classmethod
    def helo_only(cls) -> Capabilities:
        return cls(esmtp=False, keywords=frozenset(), size_limit=None)

    def offers(self, keyword: str) -> bool:
        return keyword.upper() in self.keywords

    @property
    def pipelining(self) -> bool:
        return self.offers("PIPELINING")

    @property
    def starttls(self) -> bool:
        return self.offers("STARTTLS")

    @property
    def eight_bit_mime(self) -> bool:
        return self.offers("8BITMIME")

    @property
    def smtputf8(self) -> bool:
        return self.offers("SMTPUTF8")

    @property
    def enhanced_status_codes(self) -> bool:
        return self.offers("ENHANCEDSTATUSCODES")

    @property
    def dsn(self) -> bool:
        return self.offers("DSN")


class TlsPolicy(enum.StrEnum):
    """STARTTLS for a destination: never, when offered, or always (else not sent)."""

    OFF = "off"
    OPPORTUNISTIC = "opportunistic"
    REQUIRED = "required"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What AUTH PLAIN/LOGIN sends to a relay host: only ever over TLS."""

    username: str
    password: str = field(repr=False)  # never in a log line or a repr


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait, by step (RFC 5321 §4.5.3.2 names them; its minimums are 5 min for
    the greeting, MAIL and RCPT, 2 min DATA, 3 min per data block, 10 min after the final
    dot). Shorter defaults here: a slow peer costs a worker, and retries come anyway."""

    connect: float = 30.0
    greeting: float = 120.0
    command: float = 120.0  # EHLO, HELO, STARTTLS, MAIL, RCPT, RSET, QUIT
    tls_handshake: float = 30.0
    data_init: float = 120.0
    data_block: float = 180.0  # writing the message
    data_end: float = 300.0  # the reply after the final dot


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How sessions behave. ``ssl_context`` None: an unverified context for opportunistic
    TLS (RFC 7435: encryption without authentication beats clear text), a verifying one
    (system CAs, host name) for REQUIRED."""

    helo_name: str
    tls: TlsPolicy = TlsPolicy.OPPORTUNISTIC
    ssl_context: ssl.SSLContext | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    use_pipelining: bool = True  # when the peer offers it
    source_address: str | None = None  # the local address to connect from (IP pools)
    # Told of every TLS failure with an endpoint (TlsNotOffered, or TlsHandshakeFailed with
    # the ssl error as its cause), whatever the policy: what TLS reports are built from.
    tls_observer: Callable[[Endpoint, DeliveryFailure], None] | None = None
    # OPPORTUNISTIC with a validating ssl_context: the context to try once more with after
    # a failed handshake, before clear text (MTA-STS testing: unverified TLS, as without).
    fallback_context: ssl.SSLContext | None = None
    # AUTH after STARTTLS (a relay host that wants it); set, TLS is required whatever
    # ``tls`` says: credentials never go in clear.
    credentials: Credentials | None = None

    @classmethod
    def from_settings(
        cls,
        outbound: OutboundSettings,
        *,
        default_helo: str,
        ssl_context: ssl.SSLContext | None = None,
    ) -> ClientSettings:
        """From the ``[outbound]`` section: its one command timeout stands for every
        step's, its connect timeout for the connection and the TLS handshake."""
        command = outbound.command_timeout
        timeouts = Timeouts(
            connect=outbound.connect_timeout,
            greeting=command,
            command=command,
            tls_handshake=outbound.connect_timeout,
            data_init=command,
            data_block=command,
            data_end=command,
        )
        return cls(
            helo_name=outbound.helo_name or default_helo,
            tls=TlsPolicy(outbound.tls),
            ssl_context=ssl_context,
            timeouts=timeouts,
        )


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message for one destination: its envelope and its bytes (normalised on send)."""

    mail_from: str  # "" for the null reverse path (a DSN)
    recipients: tuple[str, ...]
    data: bytes
    # RFC 3461, passed on only to a peer that offers DSN: RET (FULL/HDRS) and ENVID for
    # the message, NOTIFY and ORCPT per recipient (absent: the peer's default).
    ret: str | None = None
    envid: str | None = None
    notify: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    orcpt: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """What happened to one recipient of one message, and who said so."""

    recipient: str
    reply: Reply
    stage: Stage
    endpoint: Endpoint | None  # None: no host was reached
    tls: bool = False  # the session was encrypted when the reply came

    @property
    def delivered(self) -> bool:
        return self.stage == "data" and self.reply.code // 100 == 2

    @property
    def permanent(self) -> bool:
        """Bounce it: a 5xx from the peer, or a permanent local failure."""
        return not self.delivered and self.reply.permanent

    @property
    def temporary(self) -> bool:
        """Defer it and retry later."""
        return not self.delivered and not self.reply.permanent


@dataclass(frozen=True, slots=True)
class MessageResult:
    message: OutboundMessage
    recipients: tuple[RecipientResult, ...]
    # What the peer offered (None: no session). Without DSN there, NOTIFY=SUCCESS/DELAY
    # were not passed on, and RFC 3461 §6.2.1 makes us the one to say "relayed".
    peer: Capabilities | None = None

    def result_for(self, recipient: str) -> RecipientResult:
        return next(r for r in self.recipients if r.recipient == recipient)
