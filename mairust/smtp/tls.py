"""TLS at the SMTP edge: the server context, its reload without a restart, and the
self-signed certificate of the embedded default.

Every listener holds one :class:`ReloadingTls` whose ``context`` never changes (asyncio
binds an implicit-TLS server to one context, aiosmtpd a STARTTLS session). That context's
SNI callback, which OpenSSL calls on every handshake (with or without SNI), looks whether
the certificate or key file changed, at most every ``check_seconds``, and hands the
connection the newest context: a renewed certificate is served from the next connection
on, and a pair that does not load keeps the previous one (logged) until it does.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mairust.secrets.private_file import read_or_create_private_file

log = logging.getLogger(__name__)

# TLS 1.2 suites: ECDHE key exchange (forward secrecy) with an AEAD cipher (AES-GCM,
# ChaCha20-Poly1305) only, RSA or ECDSA certificates: Mozilla's "intermediate" list without
# the DHE suites (they need our own DH parameters and are slow) — no CBC, no RSA key
# exchange, no SHA-1 MACs. TLS 1.3 suites are all AEAD and OpenSSL's defaults are kept.
MODERN_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
SELF_SIGNED_CERT = "smtp-cert.pem"
SELF_SIGNED_KEY = "smtp-key.pem"
SELF_SIGNED_DAYS = 825  # the longest validity clients accept for a server certificate

Clock = Callable[[], float]


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server context for the PEM pair: TLS 1.2 or later, :data:`MODERN_CIPHERS`.
    Raises OSError or ssl.SSLError when the files are missing or do not match."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(MODERN_CIPHERS)
    # The server's order of preference, and no renegotiation (a CPU-exhaustion lever).
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(cert_file, key_file)
    return context


def _file_state(path: Path) -> tuple[int, int, int]:
    # A replaced file (rename into place) has a new inode even within one mtime tick.
    info = path.stat()
    return info.st_ino, info.st_mtime_ns, info.st_size


class ReloadingTls:
    """The context a listener serves, following changes to its certificate and key files."""

    def __init__(
        self,
        cert_file: Path,
        key_file: Path,
        check_seconds: float = 5.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._cert_file = cert_file
        self._key_file = key_file
        self._check_seconds = check_seconds
        self._clock = clock
        # A pair that does not load fails the start: better than a listener without TLS.
        self._state = self._files_state()
        self._current = server_context(cert_file, key_file)
        self._checked_at = clock()
        self.context = server_context(cert_file, key_file)
        self.context.sni_callback = self._choose

    def current(self) -> ssl.SSLContext:
        """The context of the newest pair that loaded (the files looked at, if due)."""
        now = self._clock()
        if now - self._checked_at >= self._check_seconds:
            self._checked_at = now
            self._reload_if_changed()
        return self._current

    def _choose(self, connection: ssl.SSLObject, server_name: str | None, _: object) -> None:
        # OpenSSL's servername callback: its certificate is the one the handshake uses.
        connection.context = self.current()

    def _files_state(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        return _file_state(self._cert_file), _file_state(self._key_file)

    def _reload_if_changed(self) -> None:
        try:
            state = self._files_state()
            if state == self._state:
                return
            context = server_context(self._cert_file, self._key_file)
        except (OSError, ssl.SSLError) as error:
            # Half-replaced (new certificate, old key) or gone: keep serving the last good
            # pair and look again at the next check.
            log.warning("TLS files %s could not be loaded: %s", self._cert_file, error)
            return
        self._state = state
        self._current = context
        log.info("TLS certificate reloaded from %s", self._cert_file)


def ensure_self_signed(directory: Path, hostname: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``hostname`` and its key (0600) in ``directory``,
    created on the first call and kept after; returns ``(cert file, key file)``."""
    key_file = directory / SELF_SIGNED_KEY
    cert_file = directory / SELF_SIGNED_CERT
    created: list[str] = []

    def new_key() -> bytes:
        created.append("key")
        return ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    key_pem = read_or_create_private_file(key_file, new_key)
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_file} is not the EC key this function makes")
    made = bool(created) or not cert_file.exists()
    if made:
        # A certificate is public (0644); written whole, then renamed into place.
        temporary = cert_file.with_name(f".{cert_file.name}.{os.getpid()}.tmp")
        temporary.write_bytes(_self_signed_cert(key, hostname))
        os.replace(temporary, cert_file)
    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    if certificate.public_key() != key.public_key():
        raise ValueError(
            f"{cert_file} is not the certificate of {key_file}: delete both to make a new pair"
        )
    if made:
        # A warning, once per data dir: clients cannot verify this certificate.
        log.warning(
            "generated a self-signed TLS certificate for %s in %s; clients cannot verify "
            "it (set smtp.tls_cert_file and smtp.tls_key_file to serve your own)",
            hostname,
            directory,
        )
    return cert_file, key_file


def self_signed_pair(hostname: str) -> tuple[bytes, bytes]:
    """A new self-signed certificate for ``hostname`` and its new key, as PEM
    ``(certificate, key)``: a stand-in until a real certificate is there."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _self_signed_cert(key, hostname), key_pem


def _self_signed_cert(key: ec.EllipticCurvePrivateKey, hostname: str) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64] or "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(hostname or "localhost")]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def plaintext_auth_allowed(peer: object, allow_plaintext_auth: bool) -> bool:
    """Whether a client at ``peer`` (a socket peer name) may AUTH without TLS: only when
    the operator allows it and the client is on loopback, where nobody can listen in.
    A peer that is not an IP address (a Unix socket, none) is not loopback."""
    if not allow_plaintext_auth or not isinstance(peer, tuple) or not peer:
        return False
    try:
        address = ipaddress.ip_address(str(peer[0]).partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return address.is_loopback
