"""Protocol quirks: where MaiRust's SMTP differs from stock aiosmtpd, and nothing more.

Five things live here:

* every reply aiosmtpd writes on its own ("503 Error: need MAIL command",
  "552 Error: Too much mail data", ...) gains its enhanced status code on the way
  out (RFC 3463), so no client ever sees a reply without one;
* AUTH credentials are checked by an *async* callable. aiosmtpd's authenticator is
  synchronous, which would run the directory lookup and the scrypt check on the
  event loop and stall every other session; the built-in PLAIN and LOGIN parsers
  are reused and only the final check is awaited;
* the MAIL/RCPT address parse: aiosmtpd's ``_getaddr`` declares a ``typing.Protocol``
  class on every call (~6 % of the front-end's CPU under load). Ours reads a plain
  ``<local@domain>`` with one regular expression and hands anything else to the same
  RFC 5322 parser aiosmtpd uses, with the same results (a property test holds them
  equal);
* TLS: implicit TLS (a listener that handshakes at connect) counts as TLS, whether AUTH
  may go without TLS is decided per client (:func:`~mairust.smtp.tls.plaintext_auth_allowed`),
  and a second STARTTLS is refused instead of stacking TLS on TLS;
* the cost of a new connection: aiosmtpd's ``SMTP.__init__`` scans every attribute of the
  protocol and the handler (``inspect.getmembers``) and builds a signature, per connection
  (~23 % of the front-end's CPU with a connection per message). The names found depend
  only on the classes, so :class:`_ClassScanInspect` remembers them per class and hands
  aiosmtpd the same (name, bound attribute) pairs it would have found.

And the limits on what a client sends (docs/security: limits): the command and text line
lengths (aiosmtpd's, made per session: its ``command_size_limits`` is one dict shared by
every session, which each EHLO grows further), a cap on what a DATA phase reads past the
size limit (aiosmtpd keeps the pieces of an endless line until its CRLF), and the AUTH
failures a connection and a client address may make (``auth_limits.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from typing import Any, AnyStr

import aiosmtpd.smtp
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword, syntax

from mairust.errors import StorageUnavailable
from mairust.smtp.auth_limits import AuthLimits
from mairust.smtp.replies import (
    AUTH_INVALID,
    AUTH_LINE_TOO_LONG,
    AUTH_SUCCEEDED,
    AUTH_TEMP_FAILURE,
    TLS_ALREADY_ACTIVE,
    TOO_MANY_AUTH_FAILURES,
    TOO_MUCH_MAIL_DATA,
    with_enhanced_code,
)
from mairust.smtp.session_limits import AdmittedSMTP
from mairust.smtp.tls import plaintext_auth_allowed
from mairust.smtp.transports import reply_and_close
from mairust.telemetry import PlatformMetrics

log = logging.getLogger(__name__)

PasswordCheck = Callable[[str, str], Awaitable[str | None]]
"""``(login, password) -> identity``: the authenticated address, or None for bad
credentials. Raises StorageUnavailable when the credentials cannot be checked now, and
SubmitElsewhere when they belong to another region."""


class SubmitElsewhere(Exception):
    """The login is an account of a tenant homed in another region: ``reply`` says where
    it submits (its credentials are not checked here, nor counted as a failure)."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


# <dot-atom@domain> and what follows '>': the shape nearly every client sends. The RFC 5322
# parser returns exactly these characters for it; anything else takes the parser's path.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(
    rf"<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>((?:[ \t].*)?)", re.S
)


class _ClassScanInspect:
    """The ``inspect`` module as aiosmtpd's constructor sees it. Its one ``getmembers`` call
    keeps only members named ``auth_*`` (the AUTH mechanisms): for a registered class those
    names are found once, and each call returns the instance's own attributes for them.
    ``signature`` of a bound method is built once per (class, function). Everything else
    is the real module; a test holds the result equal to stock aiosmtpd's."""

    def __init__(self) -> None:
        self._names: dict[type, list[str]] = {}
        self._signatures: dict[tuple[type, Any], inspect.Signature] = {}

    def getmembers(self, obj: Any, predicate: Any = None) -> list[tuple[str, Any]]:
        cls = type(obj)
        if predicate is not None or cls not in _SCANNED_CLASSES:
            return inspect.getmembers(obj, predicate)
        names = self._names.get(cls)
        if names is None:
            # Only class attributes are remembered: instance attributes may differ.
            names = [name for name in dir(cls) if name.startswith("auth_")]
            self._names[cls] = names
        return [(name, getattr(obj, name)) for name in names if hasattr(obj, name)]

    def signature(self, obj: Any, **kwargs: Any) -> inspect.Signature:
        function = getattr(obj, "__func__", None)
        if function is None or kwargs:
            return inspect.signature(obj, **kwargs)
        key = (type(obj.__self__), function)
        found = self._signatures.get(key)
        if found is None:
            found = self._signatures[key] = inspect.signature(obj)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)


# The classes whose per-connection scan is remembered: ours, whose instances get no
# attributes named auth_* of their own (aiosmtpd looks only for those).
_SCANNED_CLASSES: set[type] = set()


@dataclass(frozen=True, slots=True)
class _Unchecked:
    """Credentials aiosmtpd parsed, waiting for the async check."""

    credentials: LoginPassword


_DSN_PARAMETERS = frozenset({"RET", "ENVID", "NOTIFY", "ORCPT"})

# What the ESMTP parameters we advertise may add to a command line (RFC 1869 §4.1.2: each
# extension states its own): aiosmtpd adds SIZE (26) and SMTPUTF8 (10) to MAIL itself;
# " BODY=8BITMIME" is 14; DSN (RFC 3461) " RET=HDRS ENVID=" and an ENVID of at most 100
# characters on MAIL, " NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=" and an ORCPT of at most 500
# on RCPT.
_MAIL_EXTRA = 14 + 16 + 100
_RCPT_EXTRA = 36 + 500
# RFC 4954 §4: an AUTH command with its initial response may be 12288 octets (a long
# password or API token in AUTH PLAIN).
_AUTH_LINE = 12288
# What a DATA phase may read past the size limit before the connection is cut: aiosmtpd
# reads an over-size message to its end to answer 552, and keeps an overlong line's pieces.
_DATA_SLACK = 1024 * 1024


class MairustSMTP(AdmittedSMTP):
    """aiosmtpd's SMTP with enhanced status codes everywhere, async AUTH checks and the
    TLS rules: AUTH only under TLS (or from loopback when ``allow_plaintext_auth``), TLS
    at connect (implicit, RFC 8314) counted as TLS, and one STARTTLS per connection.
    Connection counts, time limits and message rates: :class:`AdmittedSMTP`."""

    def __init__(
        self,
        handler: Any,
        *,
        password_check: PasswordCheck | None = None,
        allow_plaintext_auth: bool = False,
        max_command_line: int = 512,
        max_text_line: int = 1000,
        auth_limits: AuthLimits | None = None,
        telemetry: PlatformMetrics | None = None,
        listener: str = "smtp",
        **kwargs: Any,
    ) -> None:
        """``telemetry`` counts the session under ``listener`` and every reply it sends."""
        _SCANNED_CLASSES.update((type(self), type(handler)))
        # aiosmtpd compares a command without its CRLF; ours count it (RFC 5321 §4.5.3.1.4).
        command_limit = max_command_line - 2
        self.command_size_limit = command_limit
        self.command_size_limits = defaultdict(lambda: command_limit)
        # The stream reader's limit (made in aiosmtpd's constructor from this) must let the
        # longest command with its parameters through; DATA lines are held to the text
        # line limit after the read: with a transparent dot and CRLF (RFC 5321 §4.5.2).
        self.line_length_limit = max(max_text_line + 1, command_limit + _RCPT_EXTRA + 2, _AUTH_LINE)
        super().__init__(handler, **kwargs)
        self.line_length_limit = max_text_line + 1
        self._auth_limits = auth_limits
        self._auth_failures = 0
        self._close_after_reply = False
        # Bytes a DATA phase may still read before the connection is cut (None: not in DATA).
        self._data_budget: int | None = None
        self._password_check = password_check
        # The parameters of the last MAIL or RCPT as the client spelt them.
        self.original_parameters: list[str] = []
        self._allow_plaintext_auth = allow_plaintext_auth
        self._implicit_tls = False
        # aiosmtpd's own flag, as configured; decided per client below.
        self._auth_tls_configured = self._auth_require_tls
        self._telemetry = telemetry
        self._listener = listener
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        starttls_done = self._original_transport is not None
        super().connection_made(transport)
        if not starttls_done and self._telemetry is not None:
            self._counted = True
            self._telemetry.session_opened(self._listener)
            if self._refusal is not None:  # written straight to the transport
                self._telemetry.reply_sent(self._refusal)
        if starttls_done:
            # aiosmtpd's second call, once the STARTTLS handshake is over. It has already
            # dropped what the client pipelined after STARTTLS in the clear (RFC 3207 §6,
            # CVE-2011-0411), and the new session is TLS: aiosmtpd offers AUTH itself.
            return
        assert self.session is not None
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            # Implicit TLS: the listener's transport did the handshake before this call.
            self._implicit_tls = True
            self.session.ssl = {"ssl_object": ssl_object, "cipher": ssl_object.cipher()}
        self._decide_auth_tls()

    def _client_address_changed(self) -> None:
        # A loopback proxy's client is not loopback: decided again for the client it named.
        self._decide_auth_tls()

    def _decide_auth_tls(self) -> None:
        # aiosmtpd reads this flag in EHLO and AUTH: it decides per client, not per server.
        assert self.session is not None
        self._auth_require_tls = self._auth_tls_configured and not (
            self._implicit_tls
            or plaintext_auth_allowed(self.session.peer, self._allow_plaintext_auth)
        )

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        if self._implicit_tls or self._tls_protocol is not None:
            await self.push(TLS_ALREADY_ACTIVE)
            return
        await super().smtp_STARTTLS(arg)

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        # aiosmtpd adds its SIZE and SMTPUTF8 allowances at every EHLO: start afresh.
        self.command_size_limits.clear()
        await super().smtp_EHLO(hostname)
        if self.session is not None and self.session.extended_smtp:
            self.command_size_limits["MAIL"] += _MAIL_EXTRA
            self.command_size_limits["RCPT"] += _RCPT_EXTRA
            self.command_size_limits["AUTH"] = max(_AUTH_LINE - 2, self.command_size_limit)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        self._data_budget = (self.data_size_limit or 0) + _DATA_SLACK
        try:
            await super().smtp_DATA(arg)
        finally:
            self._data_budget = None

    def data_received(self, data: bytes) -> None:
        if self._data_budget is not None and self.data_size_limit:
            self._data_budget -= len(data)
            if self._data_budget < 0:
                # Far past the size limit: answer now and stop reading (nothing was kept).
                log.info("DATA from %s cut off past the size limit", self._peer())
                self._data_budget = None
                if self._telemetry is not None:
                    self._telemetry.reply_sent(TOO_MUCH_MAIL_DATA)
                if self.transport is not None:
                    reply_and_close(self.transport, TOO_MUCH_MAIL_DATA)
                return
        super().data_received(data)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        limits = self._auth_limits
        if limits is not None and arg and limits.per_ip.blocked(self._peer()):
            # This address has failed too often lately: no credentials are checked.
            log.warning("AUTH from %s refused unchecked: too many failures", self._peer())
            await asyncio.sleep(limits.delay)
            self._close_after_reply = True
            await self.push(TOO_MANY_AUTH_FAILURES)
            return
        await super().smtp_AUTH(arg)

    def _expire(self, reply: str) -> None:
        # The admission timers write their 421 straight to the transport: count it here.
        transport = self.transport
        if self._telemetry is not None and transport is not None and not transport.is_closing():
            self._telemetry.reply_sent(reply)
        super()._expire(reply)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted and self._telemetry is not None:
            self._counted = False
            self._telemetry.session_closed()
        super().connection_lost(error)

    async def push(self, status: AnyStr) -> None:
        if self.transport is None or self.transport.is_closing():
            # The client left, or a limit closed the session, while this reply was being
            # made. asyncio's transports drop a write after close; uvloop's (the Ray actor's
            # event loop) raise, which would log a client's hang-up as a server failure.
            return
        if isinstance(status, str):
            line = with_enhanced_code(status)
            if self._telemetry is not None:
                self._telemetry.reply_sent(line)
            await super().push(line)
        else:
            # Only AUTH challenges (334) are pushed as bytes; they need no code.
            await super().push(status)
        if self._close_after_reply and self.transport is not None:
            # The tarpit's 421 is out: RFC 4954 §4 lets a server end the session there.
            self._close_after_reply = False
            self.transport.close()

    def _peer(self) -> str:
        peer = self.session.peer if self.session is not None else None
        return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """(address, rest of the line); (None, None) when it does not parse."""
        if not arg:
            return "", ""
        plain = _PLAIN_PATH.fullmatch(arg)
        # The parser also eats the blanks after '>' (and a comment, left to it).
        rest = plain.group(2).lstrip(" \t") if plain is not None else "("
        if plain is not None and not rest.startswith("("):
            address = plain.group(1)
        else:
            try:
                if arg.lstrip().startswith("<"):
                    angle, rest = get_angle_addr(arg)
                    address = angle.addr_spec
                else:
                    spec, rest = get_addr_spec(arg)
                    address = spec.addr_spec
            except HeaderParseError:
                return None, None
        local_part = address.rpartition("@")[0]
        if self.local_part_limit and len(local_part) > self.local_part_limit:
            return None, None
        # aiosmtpd upper-cases the parameters it hands on; ENVID and ORCPT are
        # case-sensitive (RFC 3461), so the command's own spelling is kept here.
        self.original_parameters = (rest or "").split()
        return address, rest

    def _getparams(self, params: Sequence[str]) -> dict[str, str | bool] | None:
        """aiosmtpd's parameter check, with the DSN extension's parameters (RFC 3461:
        RET, ENVID, NOTIFY, ORCPT) taken as known: they stay in the command's options for
        the handler, and aiosmtpd no longer answers 555 for them."""
        parsed = super()._getparams(params)
        if parsed is None:
            return None
        return {name: value for name, value in parsed.items() if name not in _DSN_PARAMETERS}

    async def challenge_auth(
        self,
        challenge: str | bytes,
        encode_to_b64: bool = True,
        log_client_response: bool = False,
    ) -> Any:
        try:
            return await super().challenge_auth(challenge, encode_to_b64, log_client_response)
        except ValueError:
            # A response line past the stream reader's limit (aiosmtpd lets the reader's
            # error out, logged as a crash and answered 451): the reader has dropped it,
            # and the AUTH ends as for a '*' (RFC 4954 §4).
            log.info("AUTH response from %s too long", self._peer())
            await self.push(AUTH_LINE_TOO_LONG)
            return MISSING

    def _authenticate(self, mechanism: str, auth_data: Any) -> AuthResult:
        # Called synchronously by the built-in mechanisms: hand the parsed credentials
        # back to auth_PLAIN/auth_LOGIN below, which await the real check.
        return AuthResult(success=False, handled=False, auth_data=_Unchecked(auth_data))

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._check(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._check(await super().auth_LOGIN(_, args))

    async def _check(self, parsed: AuthResult) -> AuthResult:
        if not isinstance(parsed.auth_data, _Unchecked):
            return parsed  # aiosmtpd already answered (bad base64, '*' abort, ...)
        credentials = parsed.auth_data.credentials
        if self._password_check is None:
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        try:
            login = credentials.login.decode("utf-8")
            password = credentials.password.decode("utf-8")
        except UnicodeDecodeError:
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        try:
            identity = await self._password_check(login, password)
        except StorageUnavailable as error:
            log.warning("AUTH for %r could not be checked: %s", login, error)
            return AuthResult(success=False, handled=False, message=AUTH_TEMP_FAILURE)
        except SubmitElsewhere as elsewhere:
            log.info("AUTH for %r refused: an account of another region", login)
            return AuthResult(success=False, handled=False, message=elsewhere.reply)
        if identity is None:
            log.info("AUTH failed for %r from %r", login, self.session and self.session.peer)
            return await self._failed()
        return AuthResult(success=True, auth_data=identity, message=AUTH_SUCCEEDED)

    async def _failed(self) -> AuthResult:
        """535; at the connection's last allowed failure (or its address's), the tarpit
        delay, then 421 and close."""
        limits = self._auth_limits
        if limits is None:
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        self._auth_failures += 1
        limits.per_ip.record(self._peer())
        if self._auth_failures < limits.max_per_connection and not limits.per_ip.blocked(
            self._peer()
        ):
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        log.warning("too many AUTH failures from %s: closing", self._peer())
        await asyncio.sleep(limits.delay)
        self._close_after_reply = True
        return AuthResult(success=False, handled=False, message=TOO_MANY_AUTH_FAILURES)


# aiosmtpd's constructor reaches ``inspect`` through its module; only classes registered in
# _SCANNED_CLASSES (MairustSMTP and its handlers) take the remembered path.
vars(aiosmtpd.smtp)["inspect"] = _ClassScanInspect()
