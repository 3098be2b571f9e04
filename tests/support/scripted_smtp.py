"""A real SMTP server on loopback whose replies a test scripts, for outbound client tests.

``ScriptedSmtpServer(script)`` runs aiosmtpd in its own thread (its Controller) on
``address:port`` and answers each command from the script, else as a plain server would:

- ``greeting``: replaces the 220 line (``"554 5.7.1 Go away"``);
- ``extensions`` are added to the EHLO reply (aiosmtpd's own: SIZE, 8BITMIME, SMTPUTF8,
  STARTTLS with a TLS context); ``ehlo``: a reply refusing EHLO (the client then says HELO);
- ``mail`` / ``data`` / ``end_of_data``: replies for the 1st, 2nd... MAIL, DATA and final dot
  of the whole server's life (``None`` or a list run out: the normal reply);
- ``rcpt``: per recipient address, its replies in turn (``{"b@x.test": ["451 4.3.0 busy"]}``).

Any reply starting with ``421`` is sent and the connection closed, as RFC 5321 §3.8 has it.
``tls_context`` makes the server offer STARTTLS. ``logins`` (user → password) makes it a
relay that wants AUTH (aiosmtpd's PLAIN and LOGIN); ``auth_require_tls`` (default) offers
AUTH only after STARTTLS (538 before), False offers it in clear too; ``auth_exclude``
takes mechanisms off the list. What happened is
recorded per session (``sessions``): the commands, whether TLS was on, the messages
received, each AUTH's mechanism with whether TLS was on at the time and its outcome, and
for each MAIL the bytes the client had already sent after it (a pipelined client sends
RCPT and DATA in the same write, so they are waiting in the server's buffer when MAIL is
handled).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


@dataclass
class Script:
    greeting: str | None = None
    # Not DSN: aiosmtpd refuses its parameters (555), so offering it would be a lie.
    extensions: tuple[str, ...] = ("PIPELINING", "ENHANCEDSTATUSCODES")
    ehlo: str | None = None
    mail: list[str | None] = field(default_factory=list)
    rcpt: dict[str, list[str | None]] = field(default_factory=dict)
    data: list[str | None] = field(default_factory=list)
    end_of_data: list[str | None] = field(default_factory=list)
    # Seconds each end of DATA waits before its reply (a slow MX: sessions stay in flight).
    data_delay: float = 0.0


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]


@dataclass
class SessionLog:
    commands: list[str] = field(default_factory=list)
    tls: bool = False
    messages: list[Received] = field(default_factory=list)
    waiting_at_mail: list[bytes] = field(default_factory=list)
    peer: str = ""  # the client's address (which source address a session came from)
    # Each AUTH: (mechanism, TLS on when it came); and each login tried: (user, accepted).
    auth: list[tuple[str, bool]] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)


class _ScriptedSmtp(SMTP):
    script: Script

    async def push(self, status: str | bytes) -> None:
        text = status.decode() if isinstance(status, bytes) else status
        if text.startswith("220 ") and self.script.greeting and not getattr(self, "_greeted", 0):
            self._greeted = 1
            text = self.script.greeting
        await super().push(text)
        if text.startswith("421") and self.transport is not None:
            self.transport.close()

    async def smtp_AUTH(self, arg: str) -> None:
        mechanism = arg.split(" ")[0].upper() if arg else ""
        log = self.event_handler.log_of(self)
        log.commands.append(f"AUTH {mechanism}")
        log.auth.append((mechanism, self._tls_protocol is not None))
        await super().smtp_AUTH(arg)

    async def smtp_DATA(self, arg: str) -> None:
        reply = self.event_handler._next("DATA", self.script.data)
        if reply is None:
            await super().smtp_DATA(arg)
            return
        self.event_handler.log_of(self).commands.append("DATA (refused)")
        await self.push(reply)


class _Handler:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.lock = threading.Lock()
        self.sessions: dict[object, SessionLog] = {}  # keyed by the object: ids get reused
        self._turns: dict[str, int] = {}

    def log_of(self, server: Any) -> SessionLog:
        with self.lock:
            # One SMTP instance per connection; aiosmtpd makes a new Session at STARTTLS.
            return self.sessions.setdefault(server, SessionLog())

    def _next(self, key: str, replies: list[str | None]) -> str | None:
        with self.lock:
            turn = self._turns.get(key, 0)
            self._turns[key] = turn + 1
        return replies[turn] if turn < len(replies) else None

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        log = self.log_of(server)
        log.commands.append(f"EHLO {hostname}")
        log.tls = server._tls_protocol is not None
        log.peer = str(session.peer[0]) if session.peer else ""
        session.host_name = hostname
        if self.script.ehlo:
            return [self.script.ehlo]
        lines = [response[4:] for response in responses]
        lines = [line for line in lines if line != "HELP"] + list(self.script.extensions)
        return [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]

    async def handle_HELO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:
        self.log_of(server).commands.append(f"HELO {hostname}")
        session.host_name = hostname
        return "250 scripted.test"

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        log = self.log_of(server)
        log.commands.append(f"MAIL {address}")
        log.waiting_at_mail.append(bytes(server._reader._buffer))
        reply = self._next("MAIL", self.script.mail)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.log_of(server).commands.append(f"RCPT {address}")
        reply = self._next(f"RCPT {address.lower()}", self.script.rcpt.get(address.lower(), []))
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        log = self.log_of(server)
        log.commands.append("DATA")
        if self.script.data_delay:
            await asyncio.sleep(self.script.data_delay)
        reply = self._next("END", self.script.end_of_data)
        if reply is not None:
            return reply
        with self.lock:
            log.messages.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    content=bytes(envelope.original_content),
                    mail_options=list(envelope.mail_options),
                )
            )
        return "250 2.0.0 Ok: queued"

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        self.log_of(server).commands.append("RSET")
        return "250 2.0.0 Ok"


class _Logins:
    """aiosmtpd's authenticator over a user → password table, logging each attempt."""

    def __init__(self, handler: _Handler, logins: dict[str, str]) -> None:
        self.handler = handler
        self.logins = logins

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        ok = self.logins.get(user) == auth_data.password.decode("utf-8", "replace")
        self.handler.log_of(server).logins.append((user, ok))
        return AuthResult(success=ok, handled=False)


class _ScriptedController(Controller):
    def __init__(self, handler: _Handler, script: Script, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.script = script

    def factory(self) -> SMTP:
        server = _ScriptedSmtp(self.handler, **self.SMTP_kwargs)
        server.script = self.script
        return server


class ScriptedSmtpServer:
    """The scripted server on ``address:port`` while the context is open."""

    def __init__(
        self,
        script: Script,
        *,
        address: str = "127.0.0.1",
        port: int,
        tls_context: ssl.SSLContext | None = None,
        smtputf8: bool = True,
        size_limit: int | None = None,
        logins: dict[str, str] | None = None,
        auth_require_tls: bool = True,
        auth_exclude: tuple[str, ...] = (),
    ) -> None:
        self.script = script
        self.address = address
        self.port = port
        self.handler = _Handler(script)
        auth: dict[str, Any] = {}
        if logins is not None:
            auth = {
                "authenticator": _Logins(self.handler, logins),
                "auth_required": True,  # MAIL before a login: 530
                "auth_require_tls": auth_require_tls,
                "auth_exclude_mechanism": list(auth_exclude),
            }
        self._controller = _ScriptedController(
            self.handler,
            script,
            hostname=address,
            port=port,
            server_hostname="scripted.test",
            tls_context=tls_context,
            require_starttls=False,
            enable_SMTPUTF8=smtputf8,
            decode_data=False,
            data_size_limit=size_limit,
            **auth,
        )

    @property
    def sessions(self) -> list[SessionLog]:
        """Sessions that said EHLO or HELO (the controller's own start-up probe says none)."""
        with self.handler.lock:
            return [log for log in self.handler.sessions.values() if log.commands]

    @property
    def messages(self) -> list[Received]:
        return [message for log in self.sessions for message in log.messages]

    def __enter__(self) -> ScriptedSmtpServer:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()
