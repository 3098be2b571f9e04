"""The SMTP front-end: the inbound and submission listeners on the current event loop.

It runs inside an async host (the front-end Ray actor, or a test's loop), so it makes
its servers with ``loop.create_server`` itself instead of aiosmtpd's threaded
``Controller``. Inbound (port 25 role) offers AUTH; submission (port 587 role)
requires it (RFC 6409); both offer STARTTLS when a certificate is configured, and the
optional submissions listener (port 465 role, RFC 8314) speaks TLS from the first byte.
AUTH goes only over TLS, or in the clear from loopback clients when allowed.

Passwords are checked against the mailbox directory; an API token of the user with the
``send`` permission is taken in place of the password when a token check is given (the
service layer's, injected by the host).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from mairust.config import Settings, SmtpSettings
from mairust.disk_space import DiskGuard
from mairust.errors import InvalidInput
from mairust.model.address import domain_of, normalize_address
from mairust.outbound.forwarding import Forwarder
from mairust.outbound.signing import CachedSignerLookup, SignerLookup
from mairust.passwords import hash_password, verify_password
from mairust.regions import Regions, regions_of
from mairust.routing.router import Directory
from mairust.smtp import replies
from mairust.smtp.admission import Admission
from mairust.smtp.auth_limits import AuthLimits
from mairust.smtp.deciders import EdgeHooks, InboundAuth
from mairust.smtp.handler import InboundHandler
from mairust.smtp.protocol import MairustSMTP, PasswordCheck, SubmitElsewhere
from mairust.smtp.proxy_header import ProxySources
from mairust.smtp.relay import SuppressionLookup, login_tenant
from mairust.smtp.tls import ReloadingTls
from mairust.smtp.transports import reply_and_close
from mairust.spool import Spool
from mairust.telemetry import PlatformMetrics

log = logging.getLogger(__name__)

IDENT = "MaiRust ESMTP"
INBOUND = "smtp"
SUBMISSION = "submission"
SUBMISSIONS = "submissions"
# How often stop() looks whether sessions in a transaction have finished.
_SHUTDOWN_POLL_SECONDS = 0.05


# ``(address, secret) -> bool``: whether the secret is an API token of that mailbox that
# may send (blocking: it reads the token store).
TokenCheck = Callable[[str, str], bool]


class MailboxAuthenticator:
    """Checks SMTP AUTH credentials against a mailbox's password hash, or (with
    ``token_check``) an API token of the mailbox, off the loop. With ``regions``, a login
    of a domain whose tenant is homed in another region is refused with where to submit
    (SubmitElsewhere): its accounts live there only."""

    def __init__(
        self,
        directory: Directory,
        token_check: TokenCheck | None = None,
        regions: Regions | None = None,
    ) -> None:
        self._directory = directory
        self._token_check = token_check
        self._regions = regions
        # Unknown logins are checked against this, so they cost as much as known ones
        # and the answer's timing does not tell which addresses exist.
        self._decoy_hash = hash_password("mairust-decoy-password")

    async def __call__(self, login: str, password: str) -> str | None:
        return await asyncio.to_thread(self._check, login, password)

    def _check(self, login: str, password: str) -> str | None:
        try:
            address = normalize_address(login)
        except InvalidInput:
            verify_password(password, self._decoy_hash)
            return None
        self._refuse_if_homed_elsewhere(address)
        # A token is a keyed hash and one lookup, far cheaper than the password KDF; one
        # that does not pass still goes on to the password (a password may look like one).
        if self._token_check is not None and self._token_check(address, password):
            return address
        mailbox = self._directory.find_mailbox(address)
        if mailbox is None or mailbox.password_hash is None:
            verify_password(password, self._decoy_hash)
            return None
        return address if verify_password(password, mailbox.password_hash) else None

    def _refuse_if_homed_elsewhere(self, address: str) -> None:
        regions = self._regions
        if regions is None:
            return
        domain = self._directory.get_domain(domain_of(address))
        if domain is not None and domain.home_region and regions.is_remote(domain.home_region):
            hint = regions.submission_hint(domain.home_region)
            raise SubmitElsewhere(replies.submit_elsewhere(domain.name, hint))


@dataclass(frozen=True, slots=True)
class _Listener:
    name: str
    host: str
    port: int
    auth_required: bool
    implicit_tls: bool = False


class SmtpFrontEnd:
    """Owns the SMTP listeners; ``start()`` binds them, ``stop()`` winds them down."""

    def __init__(
        self,
        settings: Settings,
        directory: Directory,
        spool: Spool,
        authenticator: PasswordCheck | None = None,
        auth: InboundAuth | None = None,
        token_check: TokenCheck | None = None,
        hooks: EdgeHooks | None = None,
        suppressions: SuppressionLookup | None = None,
        signer_for: SignerLookup | None = None,
        forwarder: Forwarder | None = None,
        disk: DiskGuard | None = None,
        clock: Callable[[], float] = time.monotonic,
        telemetry: PlatformMetrics | None = None,
        cached_signer_for: CachedSignerLookup | None = None,
    ) -> None:
        """``disk`` watches free space (None: the data, blob and SQLite directories with
        the ``[disk]`` floor); ``clock`` times the AUTH failures of each client address
        (``auth_limits.py``); ``telemetry`` counts sessions, replies and accept times."""
        self._telemetry = telemetry
        self._settings = settings.smtp
        # Shared by every session of both listeners: one count per client address.
        self._auth_limits = AuthLimits.of(settings.smtp, clock)
        regions = regions_of(settings.regions.file, settings.regions.local)
        self._handler = InboundHandler(
            directory,
            spool,
            settings.smtp,
            auth,
            settings.mailbox.default_quota_bytes,
            hooks,
            suppressions,
            signer_for,
            forwarder,
            disk or DiskGuard.from_settings(settings),
            telemetry,
            regions,
            regions.local_region.relay_username if regions is not None else None,
            cached_signer_for,
        )
        self._authenticator: PasswordCheck = authenticator or MailboxAuthenticator(
            directory, token_check, regions
        )
        self._servers: list[asyncio.Server] = []
        self._tls: ReloadingTls | None = None
        self._sessions: weakref.WeakSet[MairustSMTP] = weakref.WeakSet()
        # Connection counts, time limits and message rates over all listeners.
        self._admission = Admission(
            settings.admission, settings.auth.trusted_networks, settings.smtp.hostname
        )
        # Load balancers whose connections name the real client first (None: off).
        self._proxies = ProxySources.of(settings.smtp)

    async def start(self) -> list[tuple[str, str, int]]:
        """Bind both listeners; returns ``(name, host, bound port)`` for each."""
        if self._servers:
            raise RuntimeError("SMTP front-end already started")
        smtp = self._settings
        listeners = [
            _Listener(INBOUND, smtp.host, smtp.port, auth_required=False),
            _Listener(SUBMISSION, smtp.host, smtp.submission_port, auth_required=True),
        ]
        tls = self._tls = _tls_of(smtp)
        if smtp.submissions_port:
            if tls is None:
                raise ValueError("smtp.submissions_port needs smtp.tls_cert_file and tls_key_file")
            listeners.append(
                _Listener(SUBMISSIONS, smtp.host, smtp.submissions_port, True, implicit_tls=True)
            )
        if smtp.allow_plaintext_auth:
            log.warning("SMTP AUTH is offered without TLS to loopback clients")
        bound: list[tuple[str, str, int]] = []
        loop = asyncio.get_running_loop()
        try:
            for listener in listeners:
                server = await loop.create_server(
                    self._protocol_factory(loop, listener),
                    listener.host,
                    listener.port,
                    ssl=tls.context if tls is not None and listener.implicit_tls else None,
                    # Several front-end processes of one node share the ports.
                    reuse_port=smtp.frontends_per_node > 1,
                )
                self._servers.append(server)
                port = int(server.sockets[0].getsockname()[1])
                bound.append((listener.name, listener.host, port))
                log.info("SMTP %s listening on %s:%d", listener.name, listener.host, port)
        except OSError:
            await self.stop(grace_seconds=0)
            raise
        return bound

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop accepting; let sessions inside a transaction finish for up to ``grace_seconds``
        seconds; then close every connection with 421 (RFC 5321 §3.8)."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        deadline = time.monotonic() + grace_seconds
        while True:
            out_of_time = time.monotonic() >= deadline
            live = [session for session in self._sessions if not _finished(session)]
            busy = [session for session in live if _in_transaction(session)]
            for session in live:
                if out_of_time or session not in busy:
                    _say_goodbye(session)
            if not busy or out_of_time:
                break
            await asyncio.sleep(_SHUTDOWN_POLL_SECONDS)
        # Since Python 3.12 this also waits for the connections closed just above.
        for server in servers:
            await server.wait_closed()

    def _protocol_factory(
        self, loop: asyncio.AbstractEventLoop, listener: _Listener
    ) -> Callable[[], MairustSMTP]:
        smtp = self._settings
        tls = self._tls
        # Implicit TLS is the transport's; STARTTLS the session's (the same reloading context).
        starttls = tls.context if tls is not None and not listener.implicit_tls else None
        # A TLS listener handshakes before the protocol reads a byte, so a PROXY header
        # (sent before the client's TLS) cannot reach it: plain listeners only.
        proxies = None if listener.implicit_tls else self._proxies

        def new_session() -> MairustSMTP:
            session = MairustSMTP(
                self._handler,
                password_check=self._authenticator,
                data_size_limit=smtp.max_message_size,
                enable_SMTPUTF8=True,
                hostname=smtp.hostname,
                ident=IDENT,
                auth_required=listener.auth_required,
                allow_plaintext_auth=smtp.allow_plaintext_auth,
                tls_context=starttls,
                loop=loop,
                max_command_line=smtp.max_command_line,
                max_text_line=smtp.max_text_line,
                auth_limits=self._auth_limits,
                admission=self._admission,
                tenant_of=self._tenant_of,
                proxies=proxies,
                telemetry=self._telemetry,
                listener=listener.name,
            )
            self._sessions.add(session)
            return session

        return new_session

    async def _tenant_of(self, login: str) -> str | None:
        """The tenant of an authenticated login's mailbox, for its tenant's message rate
        (through the handler's route cache, which RCPT asks the same of)."""
        return await login_tenant(self._handler.routes, login)


def _tls_of(smtp: SmtpSettings) -> ReloadingTls | None:
    if smtp.tls_cert_file is None or smtp.tls_key_file is None:
        return None
    return ReloadingTls(smtp.tls_cert_file, smtp.tls_key_file, smtp.tls_reload_seconds)


def _finished(session: MairustSMTP) -> bool:
    # aiosmtpd makes the Session in connection_made and drops the transport when lost.
    return session.session is not None and session.transport is None


def _in_transaction(session: MairustSMTP) -> bool:
    # Not yet connected (made, connection_made pending) counts as busy for one poll.
    return session.session is None or bool(session.envelope and session.envelope.mail_from)


def _say_goodbye(session: MairustSMTP) -> None:
    transport = session.transport
    if transport is None or transport.is_closing():
        return
    reply_and_close(transport, replies.SHUTTING_DOWN)
