"""The session side of admission: where aiosmtpd's protocol asks mairust.smtp.admission.

:class:`AdmittedSMTP` sits between aiosmtpd's ``SMTP`` and MaiRust's protocol class and
applies, per connection:

* the PROXY protocol (``proxy_header.py``): a connection from a listed proxy reads its
  header first, and the client it names is the session's peer from then on (admission,
  the greeting pause, the handler's checks, the Received: header, the logs, and again
  after STARTTLS); a connection without a valid header in time is closed without a word;
* the connection counts: a refused connection gets ``421 4.7.0`` as its first and only
  line (no greeting) and is closed before aiosmtpd starts a session on it (the cheap path a
  flood takes); an admitted one is counted until it is lost;
* the greeting pause (Postfix postscreen's pregreet test): bytes sent before the banner
  get ``554 5.5.1`` and the connection is closed;
* time: aiosmtpd's idle timer closes silently, so its expiry here says
  ``421 4.4.2 ... timeout`` first; a session deadline (however busy the client keeps it,
  slowloris) and a DATA deadline (354 to the final dot) do the same. A body cut by the
  DATA deadline never reaches the handler, so nothing of it is stored;
* the message rates, asked at MAIL once aiosmtpd has checked the command and before the
  handler spends anything on it: ``450 4.7.1``, so the client retries the whole message.
  At MAIL (not RCPT) one message costs one token whatever its recipients, and a refusal
  never splits a message between accepted and deferred recipients.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP

from mairust.errors import StorageUnavailable
from mairust.smtp import replies
from mairust.smtp.admission import Admission
from mairust.smtp.proxy_header import ProxyHeaderError, ProxySources, read_proxy_header
from mairust.smtp.transports import reply_and_close

log = logging.getLogger(__name__)

# How long a deadline that falls during a commit waits before it looks again.
_COMMIT_GRACE_SECONDS = 0.1

TenantOf = Callable[[str], Awaitable[str | None]]
"""``login -> tenant id`` of an authenticated user (None: no tenant). Raises
StorageUnavailable when it cannot be told now."""


class AdmittedSMTP(SMTP):
    """aiosmtpd's SMTP under an :class:`Admission` policy (None: stock behaviour)."""

    def __init__(
        self,
        handler: Any,
        *,
        admission: Admission | None = None,
        tenant_of: TenantOf | None = None,
        proxies: ProxySources | None = None,
        **kwargs: Any,
    ) -> None:
        """``proxies``: the peers whose connections start with a PROXY header (None: no
        peer's do)."""
        if admission is not None:
            kwargs.setdefault("timeout", admission.settings.command_timeout_seconds)
        super().__init__(handler, **kwargs)
        self._admission = admission
        self._tenant_of = tenant_of
        self._client_ip: str | None = None  # set while counted as an open connection
        self._refusal: str | None = None
        self._greeted = False
        self._early_bytes = False
        self._deadline: asyncio.TimerHandle | None = None
        self._data_deadline: asyncio.TimerHandle | None = None
        self._committing = False  # the handler is making a message durable (end of DATA)
        self._proxies = proxies
        self._awaiting_proxy_header = False
        # The client a PROXY header named, as ``(ip, port)``: a socket peer name, which
        # aiosmtpd's Session.peer holds at run time (its annotation says str).
        self._proxied_peer: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is not None:
            # STARTTLS's second call: already admitted. aiosmtpd makes a new Session with
            # the socket's peer; the client behind a proxy is still the one it named.
            super().connection_made(transport)
            if self._proxied_peer is not None and self.session is not None:
                self.session.peer = self._proxied_peer
            return
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if self._proxies is not None and self._proxies.listed(ip):
            # Admitted (or not) once the header has named the client: _handle_client.
            self._awaiting_proxy_header = True
            super().connection_made(transport)
            return
        if self._admission is None:
            super().connection_made(transport)
            return
        self._refusal = self._admission.open_connection(ip)
        if self._refusal is None:
            self._client_ip = ip
            super().connection_made(transport)
            return
        # Refused: the one line and close, without aiosmtpd's reader, writer and session
        # task: under a flood this path is most of what the server does.
        self.session = self._create_session()
        self.session.peer = peer
        reply_and_close(transport, self._refusal)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refusal is not None:
            return  # aiosmtpd never saw this connection (connection_made above)
        for timer in (self._deadline, self._data_deadline):
            if timer is not None:
                timer.cancel()
        if self._admission is not None and self._client_ip is not None:
            self._admission.close_connection(self._client_ip)
            self._client_ip = None
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if self._refusal is not None:
            return False
        if self._awaiting_proxy_header:
            # aiosmtpd stops reading at EOF and keeps a half-closed socket open (until the
            # idle timer): a proxy gone inside its header leaves nobody to answer.
            assert self.session is not None
            log.info(
                "connection from proxy %r closed: EOF inside the PROXY header", self.session.peer
            )
            super().eof_received()
            return False
        return super().eof_received()

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # refused and closing: nobody reads it
        if not self._greeted:
            self._early_bytes = True
        super().data_received(data)

    async def _handle_client(self) -> None:
        if self._awaiting_proxy_header and not await self._take_proxy_header():
            return
        admission = self._admission
        if admission is None:
            self._greeted = True
            await super()._handle_client()
            return
        self._deadline = self.loop.call_later(
            admission.settings.session_timeout_seconds, self._session_expired
        )
        pause = admission.greet_pause(self._client_ip or "")
        if pause > 0:
            await asyncio.sleep(pause)
            if self._early_bytes:
                log.info("early talker %s refused before the greeting", self._client_ip)
                await self.push(replies.EARLY_TALKER)
                self._close()
                return
        self._greeted = True
        await super()._handle_client()

    async def _take_proxy_header(self) -> bool:
        """Read a listed proxy's header and admit the client it names; False: closed."""
        assert self._proxies is not None and self.session is not None
        proxy = self.session.peer
        try:
            client = await read_proxy_header(self._reader, self._proxies.timeout)
        except ProxyHeaderError as error:
            log.info("connection from proxy %r closed: %s", proxy, error)
            self._close()
            return False
        self._awaiting_proxy_header = False
        if client is not None:
            log.debug("proxy %r: client %r", proxy, client)
            self._proxied_peer = client
            self.session.peer = self._proxied_peer
            self._client_address_changed()
        # The header's bytes were no early talk; what the client sent after it was.
        self._early_bytes = bool(getattr(self._reader, "_buffer", b""))
        if self._admission is None:
            return True
        peer: Any = self.session.peer
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        refusal = self._admission.open_connection(ip)
        if refusal is not None:
            if self.transport is not None:
                reply_and_close(self.transport, refusal)
            self._close()
            return False
        self._client_ip = ip
        return True

    def _client_address_changed(self) -> None:
        """A PROXY header named the client: the session's peer is now that address.
        Subclasses redo what they decided from the socket's peer."""

    def _timeout_cb(self) -> None:
        # aiosmtpd's idle timer: it would close without a word.
        if self._admission is None:
            super()._timeout_cb()  # type: ignore[no-untyped-call]
        elif self._committing:
            self._reset_timeout(_COMMIT_GRACE_SECONDS)
        else:
            self._expire(self._admission.timed_out("command timeout"))

    def _session_expired(self) -> None:
        assert self._admission is not None
        if self._committing:
            # A message whose body is in is being made durable: cutting it now could leave
            # it stored without its 250 (then sent twice). The next look ends the session.
            self._deadline = self.loop.call_later(_COMMIT_GRACE_SECONDS, self._session_expired)
        else:
            self._expire(self._admission.timed_out("session timeout"))

    async def smtp_DATA(self, arg: str) -> None:
        admission = self._admission
        if admission is None:
            await super().smtp_DATA(arg)
            return
        seconds = admission.settings.data_timeout_seconds
        # The body is bounded by the DATA deadline, not by the idle timer (which aiosmtpd
        # does not reset while it reads the body).
        self._reset_timeout(seconds + self._timeout_duration)
        self._data_deadline = self.loop.call_later(
            seconds, self._expire, admission.timed_out("DATA timeout")
        )
        try:
            await super().smtp_DATA(arg)
        finally:
            self._data_deadline.cancel()

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        if command == "DATA":
            # The whole body is in: the commit that follows must not be cut.
            if self._data_deadline is not None:
                self._data_deadline.cancel()
            self._committing = True
            try:
                return await super()._call_handler_hook(command, *args)
            finally:
                self._committing = False
        if command == "MAIL" and self._admission is not None:
            refusal = self._admission.message_refusal(
                self._client_ip or "", await self._tenant_of_login()
            )
            if refusal is not None:
                return refusal
        return await super()._call_handler_hook(command, *args)

    async def _tenant_of_login(self) -> str | None:
        session = self.session
        if self._tenant_of is None or session is None or not session.authenticated:
            return None
        login = session.auth_data
        if not isinstance(login, str):
            return None
        try:
            return await self._tenant_of(login)
        except StorageUnavailable as error:
            # The handler asks again at RCPT and answers 4xx itself; the client rate holds.
            log.warning("tenant of %r unknown for its rate: %s", login, error)
            return None

    def _expire(self, reply: str) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        log.info("%r: %s", self.session and self.session.peer, reply)
        reply_and_close(transport, reply)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
