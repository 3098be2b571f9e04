"""The SMTP client of outbound delivery: one session to one remote MTA, many messages.

:meth:`SmtpSession.open` tries the route's endpoints in order until one greets with 220
(a refused connection, a timeout, a 4xx/5xx greeting or a failed EHLO *and* HELO moves on to
the next; RFC 5321 §5.1), says EHLO (HELO if refused), and takes STARTTLS per the
:class:`TlsPolicy` (REQUIRED with no STARTTLS or a failed handshake: a temporary 4.7.4 /
4.7.5, never sent in clear; OPPORTUNISTIC after a failed handshake: once more with the
settings' ``fallback_context`` if any, else in clear).
:meth:`SmtpSession.send` sends one message and returns a result per recipient: one 550 at
RCPT fails only that recipient, the reply after the final dot applies to the accepted ones,
a 421 or a lost connection makes every recipient still pending temporary and ends the
session. With PIPELINING offered (RFC 2920), MAIL, every RCPT and DATA go in one write
and the replies are read back in order. A transaction left half done is cleared with
RSET before the next MAIL; after a completed one RFC 5321 §4.1.4 needs none, so no round
trip is spent. How many messages share a session is the caller's choice (connection reuse).
The bytes and the clock are ``smtp_wire.py``'s; what goes after DATA is ``wire_format.py``'s.

LMTP (RFC 2033) is the same session to an endpoint marked ``protocol="lmtp"`` (TCP or a
unix socket): LHLO instead of EHLO (no HELO to fall back to), and after the final dot one
reply per accepted recipient, in RCPT order, each that recipient's own outcome. With
``ClientSettings.credentials`` (a relay host that wants AUTH), TLS is required whatever
the policy, and AUTH (``smtp_auth.py``) follows the EHLO after STARTTLS: a relay without
STARTTLS is a temporary 4.7.4, and the credentials never go in clear.

Why not aiosmtplib: it has no PIPELINING (checked in 5.1.3: every command waits for its
reply), and pipelining is half of what a session to a sink costs. The rest we need would be
code around it anyway: a result per recipient with the host that answered, a 421 anywhere
turning the unanswered recipients temporary, the TLS policy with its clear-text retry. What
we need of the wire is small (lines out, multi-line replies in, one ``start_tls``), and
asyncio streams do it.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType

from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.mx import Endpoint
from mairust.outbound.smtp_auth import authenticate
from mairust.outbound.smtp_types import (
    Capabilities,
    ClientSettings,
    ConnectionFailure,
    ConnectionLost,
    MessageResult,
    OutboundMessage,
    RecipientResult,
    Reply,
    SessionUnavailable,
    SizeExceeded,
    SmtpProtocolError,
    Stage,
    TlsHandshakeFailed,
    TlsNotOffered,
    TlsPolicy,
)
from mairust.outbound.smtp_wire import PeerClosing, SmtpConnection
from mairust.outbound.wire_format import (
    WireMessage,
    check_recipient,
    check_sender,
    dot_stuff,
    dsn_mail_parameters,
    dsn_rcpt_parameters,
    mail_parameters,
    normalize,
)

log = logging.getLogger(__name__)


@functools.cache
def default_ssl_context(policy: TlsPolicy) -> ssl.SSLContext:
    """The context when the settings bring none: built once per policy, since loading the
    system's CAs costs milliseconds and a context serves any number of connections."""
    if policy is TlsPolicy.OPPORTUNISTIC:
        # RFC 7435: unauthenticated encryption beats clear text; no CAs to load.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SmtpSession:
    """An open, greeted, EHLO'd (and maybe encrypted) session; use :meth:`open`."""

    def __init__(
        self, connection: SmtpConnection, endpoint: Endpoint, settings: ClientSettings
    ) -> None:
        self._wire = connection
        self.endpoint = endpoint
        self.settings = settings
        self.capabilities = Capabilities.helo_only()
        self.tls = False
        self.messages_sent = 0
        self._dirty = False  # a transaction was started and not completed: RSET first

    # -- opening -----------------------------------------------------------------------

    @classmethod
    async def open(cls, endpoints: Sequence[Endpoint], settings: ClientSettings) -> SmtpSession:
        """The first endpoint that gives a usable session; SessionUnavailable (temporary)
        with every attempt's reason if none does."""
        attempts: list[tuple[Endpoint, str]] = []
        last: DeliveryFailure = ConnectionFailure("no endpoint to connect to")
        for endpoint in endpoints:
            try:
                return await cls._open_one(endpoint, settings, try_tls=True)
            except DeliveryFailure as failure:
                log.info("%s [%s]:%d: %s", endpoint.host, endpoint.address, endpoint.port, failure)
                attempts.append((endpoint, str(failure)))
                # The code told is the last failure's, unless a host refused to go without
                # TLS: "not sent in clear" is what the trace and the DSN must say then.
                if not isinstance(last, TlsNotOffered | TlsHandshakeFailed):
                    last = failure
        raise SessionUnavailable(
            "; ".join(f"{e.host}[{e.address}]: {why}" for e, why in attempts) or str(last),
            enhanced_code=last.enhanced_code,
            attempts=tuple(attempts),
        )

    @classmethod
    async def _open_one(
        cls, endpoint: Endpoint, settings: ClientSettings, *, try_tls: bool
    ) -> SmtpSession:
        if endpoint.unix:
            connection = await SmtpConnection.connect_unix(
                endpoint.address, seconds=settings.timeouts.connect
            )
        else:
            connection = await SmtpConnection.connect(
                endpoint.address,
                endpoint.port,
                seconds=settings.timeouts.connect,
                local_address=settings.source_address,
            )
        session = cls(connection, endpoint, settings)
        try:
            await session._greet(try_tls=try_tls)
        except _TlsRetryInClear:
            connection.abort()
            if settings.fallback_context is not None:  # once more, with the fallback's TLS
                fallback = replace(settings, ssl_context=settings.fallback_context)
                return await cls._open_one(
                    endpoint, replace(fallback, fallback_context=None), try_tls=True
                )
            return await cls._open_one(endpoint, settings, try_tls=False)
        except PeerClosing as closing:
            connection.abort()
            raise ConnectionFailure(f"the server is closing: {closing.reply}") from None
        except OSError as exc:
            connection.abort()
            raise ConnectionFailure(f"connection lost: {exc}") from exc
        except (ConnectionLost, TlsHandshakeFailed, SmtpProtocolError):
            connection.abort()  # the peer is gone or the stream is unusable: no QUIT
            raise
        except DeliveryFailure:
            await session.close()
            raise
        return session

    async def _greet(self, *, try_tls: bool) -> None:
        greeting = await self._wire.read_reply(self.settings.timeouts.greeting, "greeting")
        if greeting.code != 220:
            raise ConnectionFailure(f"greeted with {greeting}")
        await self._hello()
        await self._start_tls(try_tls=try_tls)
        credentials = self.settings.credentials
        if credentials is not None:
            await authenticate(
                self._wire,
                self.capabilities,
                credentials,
                encrypted=self.tls,
                seconds=self.settings.timeouts.command,
                host=self.endpoint.host,
            )

    async def _start_tls(self, *, try_tls: bool) -> None:
        # Credentials to send: TLS or nothing, whatever the policy says.
        credentials = self.settings.credentials is not None
        policy = TlsPolicy.REQUIRED if credentials else self.settings.tls
        why = "our credentials are never sent in clear" if credentials else "TLS is required"
        if policy is TlsPolicy.OFF or (policy is TlsPolicy.OPPORTUNISTIC and not try_tls):
            return
        if not self.capabilities.starttls:
            self._tls_failed(TlsNotOffered("the server offers no STARTTLS"))
            if policy is TlsPolicy.REQUIRED:
                raise TlsNotOffered(f"{why} and the server offers no STARTTLS: not sent in clear")
            return
        reply = await self._wire.command("STARTTLS", self.settings.timeouts.command)
        if reply.code != 220:
            self._tls_failed(TlsNotOffered(f"STARTTLS refused ({reply})"))
            if policy is TlsPolicy.REQUIRED:
                raise TlsNotOffered(f"{why} and STARTTLS was refused ({reply}): not sent in clear")
            return
        context = self.settings.ssl_context or default_ssl_context(policy)
        server_name = None if self.endpoint.host.startswith("[") else self.endpoint.host
        try:
            await self._wire.start_tls(
                context, server_hostname=server_name, seconds=self.settings.timeouts.tls_handshake
            )
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            failed = TlsHandshakeFailed(f"TLS handshake failed ({exc})")
            failed.__cause__ = exc
            self._tls_failed(failed)
            if policy is TlsPolicy.REQUIRED:
                raise TlsHandshakeFailed(
                    f"TLS handshake failed ({exc}): not sent in clear"
                ) from exc
            again = "with the fallback context" if self.settings.fallback_context else "in clear"
            log.info("%s: TLS handshake failed (%s); once more %s", self.endpoint.host, exc, again)
            raise _TlsRetryInClear from exc
        self.tls = True
        await self._hello()  # RFC 3207 §4.2: forget what was learnt before TLS

    def _tls_failed(self, failure: DeliveryFailure) -> None:
        observer = self.settings.tls_observer
        if observer is not None:
            observer(self.endpoint, failure)

    @property
    def lmtp(self) -> bool:
        return self.endpoint.protocol == "lmtp"

    async def _hello(self) -> None:
        name = self.settings.helo_name
        verb = "LHLO" if self.lmtp else "EHLO"
        reply = await self._wire.command(f"{verb} {name}", self.settings.timeouts.command)
        if reply.code == 250:
            self.capabilities = Capabilities.from_ehlo(reply)
            return
        if self.lmtp:  # RFC 2033 §4.1: LMTP has no HELO
            raise ConnectionFailure(f"LHLO refused: {reply}")
        reply = await self._wire.command(f"HELO {name}", self.settings.timeouts.command)
        if reply.code != 250:
            raise ConnectionFailure(f"EHLO and HELO refused: {reply}")
        self.capabilities = Capabilities.helo_only()

    # -- sending -------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Still open: the caller may hand it another message."""
        return self._wire.open

    async def send(self, message: OutboundMessage) -> MessageResult:
        """Send ``message``; never raises for what the peer or the network does: every
        recipient gets a result (see the module docstring)."""
        # Refusals decided here, before the wire: a recipient we cannot write down.
        pending: dict[str, tuple[Reply, Stage]] = {}
        for recipient in message.recipients:
            try:
                check_recipient(recipient)
            except DeliveryFailure as failure:
                pending[recipient] = (Reply.local(failure), "content")
        recipients = [r for r in dict.fromkeys(message.recipients) if r not in pending]
        try:
            check_sender(message.mail_from)
            wire = normalize(message.data)
            params = self._parameters(message, wire)
        except DeliveryFailure as failure:
            return self._all(message, Reply.local(failure), "content")
        if not recipients:
            return self._finish(message, pending, None, "content")
        if not self.usable:
            closed = ConnectionLost("the session is closed")
            return self._finish(message, pending, Reply.local(closed), "session")
        try:
            return await self._transaction(message, recipients, wire, params, pending)
        except PeerClosing as closing:
            self._wire.abort()
            return self._finish(message, pending, closing.reply, "session")
        except (DeliveryFailure, OSError, TimeoutError) as exc:
            self._wire.abort()
            lost: DeliveryFailure = (
                exc
                if isinstance(exc, DeliveryFailure)
                else ConnectionLost(f"connection lost: {exc or type(exc).__name__}")
            )
            return self._finish(message, pending, Reply.local(lost), "session")

    def _parameters(self, message: OutboundMessage, wire: WireMessage) -> list[str]:
        caps = self.capabilities
        if caps.size_limit and wire.size > caps.size_limit:
            raise SizeExceeded(
                f"the message ({wire.size} octets) exceeds the server's limit ({caps.size_limit})"
            )
        params = list(
            mail_parameters(
                wire,
                (message.mail_from, *message.recipients),
                peer_8bitmime=caps.eight_bit_mime,
                peer_smtputf8=caps.smtputf8,
            )
        )
        if caps.size_limit is not None:
            params.insert(0, f"SIZE={wire.size}")
        if caps.dsn:
            params.extend(dsn_mail_parameters(message.ret, message.envid))
        return params

    def _rcpt_line(self, message: OutboundMessage, recipient: str) -> str:
        line = f"RCPT TO:<{recipient}>"
        if not self.capabilities.dsn:
            return line
        params = dsn_rcpt_parameters(
            message.notify.get(recipient, ()), message.orcpt.get(recipient)
        )
        return " ".join([line, *params])

    async def _transaction(
        self,
        message: OutboundMessage,
        recipients: list[str],
        wire: WireMessage,
        params: list[str],
        pending: dict[str, tuple[Reply, Stage]],
    ) -> MessageResult:
        """One transaction; ``pending`` gets each recipient's reply as it is read, so an
        interruption keeps the final ones (a 550 at RCPT) and replaces only the rest."""
        timeouts = self.settings.timeouts
        steps: list[tuple[str, str | None]] = [("RSET", None)] if self._dirty else []
        steps.append((" ".join([f"MAIL FROM:<{message.mail_from}>", *params]), None))
        steps.extend((self._rcpt_line(message, r), r) for r in recipients)
        pipelined = self.settings.use_pipelining and self.capabilities.pipelining
        self._dirty = True
        if pipelined:  # RFC 2920 §3.1: DATA ends the group
            self._wire.write(*(line for line, _ in steps), "DATA")
        mail_ok = False
        accepted: list[str] = []
        for line, recipient in steps:
            if not pipelined:
                if recipient is not None and not mail_ok:
                    break  # MAIL refused: no RCPT is worth sending
                self._wire.write(line)
            reply = await self._wire.read_reply(timeouts.command, line.split(":")[0])
            if line == "RSET":
                continue
            if recipient is None:
                mail_ok = reply.positive
                if not mail_ok:
                    pending.update((r, (reply, "mail")) for r in recipients)
            elif mail_ok:
                pending[recipient] = (reply, "rcpt")
                if reply.positive:
                    accepted.append(recipient)
        if not pipelined and not accepted:
            return self._finish(message, pending, None, "rcpt")
        if not pipelined:
            self._wire.write("DATA")
        data_reply = await self._wire.read_reply(timeouts.data_init, "DATA")
        if data_reply.code != 354:
            for recipient in accepted:
                pending[recipient] = (data_reply, "data")
            return self._finish(message, pending, None, "data")
        if not accepted:  # a pipelined DATA the server took anyway: end it empty (RFC 2920)
            self._wire.write(".")
            await self._wire.read_reply(timeouts.data_end, "end of data")
            return self._finish(message, pending, None, "data")
        self._wire.write_bytes(dot_stuff(wire.data))
        await self._wire.drain(timeouts.data_block)
        # LMTP: a reply per accepted recipient, in RCPT order (RFC 2033 §4.2); each is
        # kept as it comes, so a connection lost midway spares the ones already read.
        for recipient in accepted if self.lmtp else accepted[:1]:
            final = await self._wire.read_reply(timeouts.data_end, "end of data")
            for answered in [recipient] if self.lmtp else accepted:
                pending[answered] = (final, "data")
        self._dirty = False
        self.messages_sent += 1
        return self._finish(message, pending, None, "data")

    # -- results -------------------------------------------------------------------------

    def _result(self, recipient: str, reply: Reply, stage: Stage) -> RecipientResult:
        return RecipientResult(recipient, reply, stage, self.endpoint, self.tls)

    def _all(self, message: OutboundMessage, reply: Reply, stage: Stage) -> MessageResult:
        results = tuple(self._result(r, reply, stage) for r in message.recipients)
        return MessageResult(message, results, self.capabilities)

    def _finish(
        self,
        message: OutboundMessage,
        pending: dict[str, tuple[Reply, Stage]],
        interrupted: Reply | None,
        stage: Stage,
    ) -> MessageResult:
        """Each recipient's last reply; ``interrupted`` (a 421, a lost connection) replaces
        every one that is not yet final: no reply, or a positive one before the final dot."""
        results = []
        for recipient in message.recipients:
            reply, at = pending.get(recipient, (None, stage))
            final = reply is not None and (not reply.positive or at == "data")
            if interrupted is not None and not final:
                reply, at = interrupted, stage
            assert reply is not None, "every recipient has a reply unless interrupted"
            results.append(self._result(recipient, reply, at))
        return MessageResult(message, tuple(results), self.capabilities)

    async def still_usable(self) -> bool:
        """Whether an idle session can carry another message: a RSET answered 250 (a peer
        that closed the connection meanwhile, or times out, is aborted here, so a reused
        session never costs a message a spurious deferral)."""
        if not self.usable:
            return False
        try:
            reply = await self._wire.command("RSET", self.settings.timeouts.command)
        except (DeliveryFailure, OSError, TimeoutError):
            self._wire.abort()
            return False
        if reply.code != 250:
            await self.close()
            return False
        return True

    async def close(self) -> None:
        """QUIT politely when still open, then close; never raises."""
        await self._wire.close(self.settings.timeouts.command)

    async def __aenter__(self) -> SmtpSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class _TlsRetryInClear(Exception):
    """Opportunistic TLS failed in the handshake: reconnect once without STARTTLS."""


async def deliver(
    endpoints: Sequence[Endpoint],
    messages: Sequence[OutboundMessage],
    settings: ClientSettings,
    *,
    messages_per_session: int | None = None,
) -> list[MessageResult]:
    """Every message, in order, over sessions to the first endpoint that answers: one
    session for all (connection reuse), or a new one every ``messages_per_session``.
    Never raises for the network or the peer: when no session can be had, or one ends
    early, the recipients not yet answered get a temporary result."""
    size = messages_per_session or max(len(messages), 1)
    results: list[MessageResult] = []
    for start in range(0, len(messages), size):
        results.extend(
            await _deliver_over_one_session(endpoints, messages[start : start + size], settings)
        )
    return results


async def _deliver_over_one_session(
    endpoints: Sequence[Endpoint], messages: Sequence[OutboundMessage], settings: ClientSettings
) -> list[MessageResult]:
    try:
        session = await SmtpSession.open(endpoints, settings)
    except SessionUnavailable as failure:
        return unreachable(messages, failure)
    async with session:
        return [await session.send(message) for message in messages]


def unreachable(
    messages: Sequence[OutboundMessage], failure: SessionUnavailable
) -> list[MessageResult]:
    """Every recipient of ``messages`` answered with why no session could be had."""
    reply = Reply.local(failure)
    return [
        MessageResult(
            message,
            tuple(
                RecipientResult(r, reply, "connect", failure.endpoint) for r in message.recipients
            ),
        )
        for message in messages
    ]
