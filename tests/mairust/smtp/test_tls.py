"""TLS at the SMTP edge: the context's floor and ciphers, reload on file change, the
self-signed pair, and who may AUTH without TLS."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import ssl
import stat
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography import x509

from mairust.smtp.tls import (
    MODERN_CIPHERS,
    SELF_SIGNED_CERT,
    SELF_SIGNED_KEY,
    ReloadingTls,
    ensure_self_signed,
    plaintext_auth_allowed,
    server_context,
)


def pair(tmp_path: Path, name: str) -> tuple[Path, Path]:
    return ensure_self_signed(tmp_path / name, f"{name}.example.test")


def client_context(**versions: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for attribute, version in versions.items():
        setattr(context, attribute, version)
    return context


def common_name(der: bytes) -> str:
    certificate = x509.load_der_x509_certificate(der)
    return str(certificate.subject.rfc4514_string())


@pytest.fixture
async def tls_server() -> AsyncIterator[Callable[[ssl.SSLContext], asyncio.Future[int]]]:
    """A loopback server that completes the TLS handshake with ``context`` and closes."""
    servers: list[asyncio.Server] = []

    async def start(context: ssl.SSLContext) -> int:
        async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(close, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


async def handshake(port: int, client: ssl.SSLContext) -> tuple[str, str, str]:
    """(TLS version, cipher, certificate subject) of one real handshake."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
    ssl_object = writer.get_extra_info("ssl_object")
    cipher = ssl_object.cipher()
    result = (ssl_object.version(), cipher[0], common_name(ssl_object.getpeercert(True)))
    writer.close()
    return result


async def test_the_context_refuses_tls_1_1_and_weak_tls_1_2_ciphers(
    tmp_path: Path, tls_server: Callable[[ssl.SSLContext], asyncio.Future[int]]
) -> None:
    cert, key = pair(tmp_path, "one")
    port = await tls_server(server_context(cert, key))
    version, _, subject = await handshake(port, client_context())
    assert version == "TLSv1.3" and subject == "CN=one.example.test"
    tls12 = client_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    version, cipher, _ = await handshake(port, tls12)
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and "GCM" in cipher
    with warnings.catch_warnings():  # Python calls these versions deprecated: they are
        warnings.simplefilter("ignore", DeprecationWarning)
        old = client_context(
            minimum_version=ssl.TLSVersion.TLSv1, maximum_version=ssl.TLSVersion.TLSv1_1
        )
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await handshake(port, old)
    # The control: this client does get TLS 1.1 from a server that allows it.
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        permissive.minimum_version = ssl.TLSVersion.TLSv1
    permissive.set_ciphers("ALL:@SECLEVEL=0")
    permissive.load_cert_chain(cert, key)
    assert (await handshake(await tls_server(permissive), old))[0] == "TLSv1.1"
    # A client that offers only CBC suites finds none in common.
    cbc = client_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await handshake(port, cbc)


def test_the_cipher_list_is_aead_with_forward_secrecy_only(tmp_path: Path) -> None:
    cert, key = pair(tmp_path, "one")
    names = [c["name"] for c in server_context(cert, key).get_ciphers()]
    tls12 = [name for name in names if not name.startswith("TLS_")]
    assert tls12 and all(n.startswith("ECDHE-") for n in tls12)
    assert all("GCM" in n or "CHACHA20" in n for n in tls12)
    assert MODERN_CIPHERS == "ECDHE+AESGCM:ECDHE+CHACHA20"


async def test_a_replaced_pair_is_served_from_the_next_handshake(
    tmp_path: Path, tls_server: Callable[[ssl.SSLContext], asyncio.Future[int]]
) -> None:
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "cert.pem", live / "key.pem"
    one_cert, one_key = pair(tmp_path, "one")
    two_cert, two_key = pair(tmp_path, "two")
    shutil.copy(one_cert, cert)
    shutil.copy(one_key, key)
    now = [100.0]
    tls = ReloadingTls(cert, key, check_seconds=5.0, clock=lambda: now[0])
    port = await tls_server(tls.context)
    assert (await handshake(port, client_context()))[2] == "CN=one.example.test"
    # Replaced the way a renewal does it: new files renamed into place.
    shutil.copy(two_cert, live / "new-cert")
    shutil.copy(two_key, live / "new-key")
    os.replace(live / "new-cert", cert)
    os.replace(live / "new-key", key)
    now[0] += 4.9  # not looked at yet: still the old one
    assert (await handshake(port, client_context()))[2] == "CN=one.example.test"
    now[0] += 0.2
    assert (await handshake(port, client_context()))[2] == "CN=two.example.test"


async def test_a_pair_that_does_not_load_keeps_the_last_good_one(
    tmp_path: Path,
    tls_server: Callable[[ssl.SSLContext], asyncio.Future[int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "cert.pem", live / "key.pem"
    one_cert, one_key = pair(tmp_path, "one")
    two_cert, two_key = pair(tmp_path, "two")
    shutil.copy(one_cert, cert)
    shutil.copy(one_key, key)
    now = [0.0]
    tls = ReloadingTls(cert, key, check_seconds=1.0, clock=lambda: now[0])
    port = await tls_server(tls.context)
    shutil.copy(two_cert, cert)  # the certificate renewed, its key not yet
    now[0] += 1
    with caplog.at_level(logging.WARNING, logger="mairust.smtp.tls"):
        assert (await handshake(port, client_context()))[2] == "CN=one.example.test"
    assert "could not be loaded" in caplog.text
    shutil.copy(two_key, key)  # now the pair is whole again
    now[0] += 1
    assert (await handshake(port, client_context()))[2] == "CN=two.example.test"


def test_a_pair_that_does_not_load_fails_the_start(tmp_path: Path) -> None:
    one_cert, _ = pair(tmp_path, "one")
    _, two_key = pair(tmp_path, "two")
    with pytest.raises(ssl.SSLError):
        ReloadingTls(one_cert, two_key)
    with pytest.raises(OSError):
        ReloadingTls(tmp_path / "missing.pem", two_key)


def test_the_self_signed_pair_is_made_once_with_a_private_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "tls"
    with caplog.at_level(logging.INFO, logger="mairust.smtp.tls"):
        cert, key = ensure_self_signed(directory, "mx.example.test")
    assert (cert.name, key.name) == (SELF_SIGNED_CERT, SELF_SIGNED_KEY)
    assert "generated a self-signed TLS certificate for mx.example.test" in caplog.text
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert.stat().st_mode) & 0o077 == 0o044
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == ["mx.example.test"]
    before = (cert.read_bytes(), key.read_bytes())
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mairust.smtp.tls"):
        assert ensure_self_signed(directory, "mx.example.test") == (cert, key)
    assert (cert.read_bytes(), key.read_bytes()) == before
    assert "generated" not in caplog.text
    server_context(cert, key)  # a pair that loads


def test_a_lost_certificate_is_made_again_from_the_kept_key(tmp_path: Path) -> None:
    cert, key = ensure_self_signed(tmp_path, "mx.example.test")
    key_pem = key.read_bytes()
    cert.unlink()
    ensure_self_signed(tmp_path, "mx.example.test")
    assert key.read_bytes() == key_pem
    server_context(cert, key)


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        (("127.0.0.1", 4000), True),
        (("127.0.0.53", 4000), True),
        (("::1", 4000, 0, 0), True),
        (("::ffff:127.0.0.1", 4000, 0, 0), True),
        (("192.0.2.10", 4000), False),
        (("10.0.0.1", 4000), False),
        (("::ffff:192.0.2.10", 4000, 0, 0), False),
        (("2001:db8::1", 4000, 0, 0), False),
        (("fe80::1%eth0", 4000, 0, 2), False),
        ("", False),  # a Unix socket's peer
        (None, False),
        (("not-an-address", 1), False),
    ],
)
def test_plaintext_auth_is_for_loopback_clients_only(peer: object, allowed: bool) -> None:
    assert plaintext_auth_allowed(peer, allow_plaintext_auth=True) is allowed
    # And for nobody when the operator does not allow it.
    assert plaintext_auth_allowed(peer, allow_plaintext_auth=False) is False
