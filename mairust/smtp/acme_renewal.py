"""Renewal of the SMTP listeners' ACME certificate: whether it is due, writing a new pair
where the listeners look, and the supervised loop that keeps it fresh.

The pair goes to ``smtp.tls_cert_file`` / ``tls_key_file``, the files every listener's
:class:`~mairust.smtp.tls.ReloadingTls` watches: each is written under a temporary name
in its own directory, flushed, then renamed into place (the key first, then the
certificate), so a handshake sees a whole old or a whole new file. One that looks between
the two renames finds a pair that does not match, keeps serving the old one and looks
again at its next check; from then on every new connection gets the new certificate,
with no restart.

The loop (:meth:`AcmeRenewer.run`) looks every ``check_interval_seconds``; an order that
fails raises out of it, and its :class:`~mairust.supervision.Supervisor` logs the error and
runs it again after a backoff that doubles from ``retry_first_seconds`` up to
``retry_max_seconds`` (a CA counts failed validations against its rate limits). The wall
clock is a parameter, for tests.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from mairust.config import AcmeSettings, Settings
from mairust.secrets.private_file import PRIVATE_MODE
from mairust.smtp.acme_client import AcmeIssuer, IssuedCertificate, load_account_key
from mairust.smtp.tls import self_signed_pair
from mairust.supervision import Backoff, Supervisor

log = logging.getLogger(__name__)

LOOP_NAME = "acme renewal"

WallClock = Callable[[], datetime.datetime]
Issue = Callable[[Sequence[str]], IssuedCertificate]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class CertificateStatus:
    """What the certificate file holds, and why it is due for renewal (None: it is not)."""

    names: tuple[str, ...]
    issuer: str
    not_after: datetime.datetime | None
    due: str | None


def certificate_status(
    cert_file: Path,
    domains: Sequence[str],
    renew_before: datetime.timedelta,
    now: datetime.datetime,
) -> CertificateStatus:
    """The certificate at ``cert_file`` judged at ``now``: due when it is missing or does
    not load, is self-signed (the stand-in), lacks one of ``domains``, or has less than
    ``renew_before`` left."""
    try:
        certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError) as error:
        return CertificateStatus((), "", None, f"no certificate to use ({error})")
    try:
        alt_names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = tuple(alt_names.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    issuer = certificate.issuer.rfc4514_string()
    not_after = certificate.not_valid_after_utc
    due: str | None = None
    missing = sorted({d.lower() for d in domains} - {n.lower() for n in names})
    left = not_after - now
    if certificate.issuer == certificate.subject:
        due = "the certificate is self-signed (a stand-in)"
    elif missing:
        due = f"the certificate lacks {', '.join(missing)}"
    elif left < renew_before:
        due = f"the certificate expires in {left.total_seconds() / 86400:.1f} days"
    return CertificateStatus(names, issuer, not_after, due)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_pair(cert_file: Path, key_file: Path, cert_pem: bytes, key_pem: bytes) -> None:
    """Replace the pair: the key (0600) first, then the certificate (0644), each renamed
    into place whole."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(key_file, key_pem, PRIVATE_MODE)
    _write_atomically(cert_file, cert_pem, 0o644)


def ensure_stand_in(cert_file: Path, key_file: Path, hostname: str) -> bool:
    """A self-signed pair at the two paths when either file is missing, so the listeners
    start (and offer STARTTLS) before the first certificate comes; True if written."""
    if cert_file.exists() and key_file.exists():
        return False
    write_pair(cert_file, key_file, *self_signed_pair(hostname))
    log.warning(
        "no certificate at %s yet: serving a self-signed stand-in until ACME issues one",
        cert_file,
    )
    return True


class AcmeRenewer:
    """Keeps the pair at ``cert_file`` / ``key_file`` issued for ``domains`` and fresh."""

    def __init__(
        self,
        issue: Issue,
        domains: Sequence[str],
        cert_file: Path,
        key_file: Path,
        *,
        renew_before_days: float,
        check_interval_seconds: float,
        clock: WallClock = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._issue = issue
        self.domains = list(domains)
        self.cert_file = cert_file
        self.key_file = key_file
        self._renew_before = datetime.timedelta(days=renew_before_days)
        self._interval = check_interval_seconds
        self._clock = clock
        self._sleep = sleep
        self.renewals = 0
        # Called after every check that ended well (the supervisor's progress()).
        self.on_progress: Callable[[], None] = lambda: None

    def status(self) -> CertificateStatus:
        return certificate_status(self.cert_file, self.domains, self._renew_before, self._clock())

    async def renew_if_due(self, force: bool = False) -> bool:
        """Order and write a new pair when due (or ``force``); True if one was written.
        Raises what the order raised (nothing is written then)."""
        reason = "renewal forced" if force else self.status().due
        if reason is None:
            return False
        log.info("ACME: ordering a certificate for %s: %s", ", ".join(self.domains), reason)
        issued = await asyncio.to_thread(self._issue, self.domains)
        write_pair(self.cert_file, self.key_file, issued.chain_pem, issued.key_pem)
        self.renewals += 1
        status = self.status()
        log.info(
            "ACME: new certificate for %s from %s, valid until %s, in %s",
            ", ".join(status.names),
            status.issuer,
            status.not_after,
            self.cert_file,
        )
        return True

    async def run(self) -> None:
        """Check, renew when due, wait; forever. A failed order raises (the supervisor
        logs it and runs this again after its backoff)."""
        while True:
            await self.renew_if_due()
            self.on_progress()
            await self._sleep(self._interval)


def renewal_backoff(settings: AcmeSettings) -> Backoff:
    """Waits after failed orders: doubling from ``retry_first_seconds`` to
    ``retry_max_seconds``; never given up (the old certificate is served meanwhile).
    Only a run that lived through a whole check interval resets it."""
    return Backoff(
        first_seconds=settings.retry_first_seconds,
        max_seconds=max(settings.retry_max_seconds, settings.retry_first_seconds),
        healthy_after=settings.check_interval_seconds,
        give_up_after=None,
    )


def renewal_supervisor(
    renewer: AcmeRenewer, settings: AcmeSettings, clock: Callable[[], float] = time.monotonic
) -> Supervisor:
    """The supervisor of ``renewer``'s loop (its host starts and stops it)."""
    supervisor = Supervisor(LOOP_NAME, renewer.run, renewal_backoff(settings), clock=clock)
    renewer.on_progress = supervisor.progress
    return supervisor


def issuer_from_settings(settings: AcmeSettings) -> Issue:
    """``issue(domains)`` against the configured CA; the account key is read (or made)
    at each order, not before the first."""
    account_key_file = settings.account_key_file
    if account_key_file is None:
        raise ValueError("acme.account_key_file is resolved by Settings")

    def issue(domains: Sequence[str]) -> IssuedCertificate:
        issuer = AcmeIssuer(
            settings.directory_url,
            load_account_key(account_key_file),
            email=settings.email,
            ca_file=settings.ca_file,
            http_address=settings.http_address,
            http_port=settings.http_port,
        )
        return issuer.issue(domains)

    return issue


def renewer_from_settings(settings: Settings, clock: WallClock = utc_now) -> AcmeRenewer:
    """The renewer of ``[acme]`` for the listeners' files (``[acme] enabled`` needs them)."""
    cert_file, key_file = settings.smtp.tls_cert_file, settings.smtp.tls_key_file
    if cert_file is None or key_file is None:
        raise ValueError("[acme] enabled needs smtp.tls_cert_file and smtp.tls_key_file")
    acme = settings.acme
    return AcmeRenewer(
        issuer_from_settings(acme),
        acme.domains,
        cert_file,
        key_file,
        renew_before_days=acme.renew_before_days,
        check_interval_seconds=acme.check_interval_seconds,
        clock=clock,
    )
