"""SmtpFrontEnd with TLS: STARTTLS on both listeners, implicit TLS on submissions, AUTH
only under TLS, pipelining after STARTTLS discarded, one STARTTLS, certificate reload —
with real clients (smtplib, swaks, a raw socket) on loopback."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography import x509

from load.targets import free_loopback_port
from mairust.hooks.points import HookPoint
from mairust.model.message import Envelope
from mairust.model.verdict import CONTINUE, Verdict
from mairust.smtp.tls import ensure_self_signed

if TYPE_CHECKING:
    # Fixture types; conftest is not importable at run time (importlib mode).
    from tests.mairust.smtp.conftest import Mta, StartMta


DOMAIN = "example.test"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
PASSWORD = "correct horse battery"
MESSAGE = b"From: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n"


class MailFromSeen:
    """Hooks that refuse nothing and remember each MAIL the handler acted on."""

    def __init__(self) -> None:
        self.senders: list[str] = []

    async def decide(
        self, point: HookPoint, envelope: Envelope, message: bytes | None, tenants: Collection[str]
    ) -> Verdict:
        if point is HookPoint.MAIL_FROM:
            self.senders.append(envelope.mail_from)
        return CONTINUE


def no_verify() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def subject_of(sock: ssl.SSLSocket) -> str:
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


@pytest.fixture
def pem(tmp_path: Path) -> tuple[Path, Path]:
    return ensure_self_signed(tmp_path / "tls", "mx.example.test")


@pytest.fixture
async def tls_mta(start_mta: StartMta, pem: tuple[Path, Path]) -> Mta:
    """TLS on, AUTH in the clear refused even on loopback, a submissions listener."""
    return await start_mta(
        tls_cert_file=pem[0],
        tls_key_file=pem[1],
        allow_plaintext_auth=False,
        submissions_port=free_loopback_port(),
    )


def submissions_port(mta: Mta) -> int:
    return next(port for name, _, port in mta.listeners if name == "submissions")


async def test_auth_is_offered_and_taken_only_after_starttls(tls_mta: Mta) -> None:
    def run() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        with smtplib.SMTP("127.0.0.1", tls_mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            seen["clear"] = set(client.esmtp_features)
            seen["auth in clear"] = client.docmd("AUTH", "PLAIN AGFsaWNlAHB3")
            seen["mail in clear"] = client.docmd("MAIL", f"FROM:<{ALICE}>")
            client.starttls(context=no_verify())
            client.ehlo("client.test")
            seen["tls"] = set(client.esmtp_features)
            seen["auth"] = client.login(ALICE, PASSWORD)
            client.mail(ALICE)
            client.rcpt(BOB)
            seen["data"] = client.data(MESSAGE)
        return seen

    seen = await asyncio.to_thread(run)
    assert "starttls" in seen["clear"] and "auth" not in seen["clear"]
    assert seen["auth in clear"] == (
        538,
        b"5.7.11 Encryption required for requested authentication mechanism",
    )
    assert seen["mail in clear"] == (530, b"5.7.0 Authentication required")
    assert "auth" in seen["tls"] and "starttls" not in seen["tls"]
    assert seen["auth"] == (235, b"2.7.0 Authentication successful")
    code, text = seen["data"]
    assert code == 250
    message_id = text.decode().rsplit(" ", 1)[-1]
    # RFC 3848: TLS and AUTH both named in our trace header.
    assert b" with ESMTPSA id " in tls_mta.body_of(message_id)


async def test_inbound_offers_starttls_to_any_sender(tls_mta: Mta) -> None:
    def run() -> tuple[bytes, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", tls_mta.port, timeout=30) as client:
            reply = client.starttls(context=no_verify())[1]
            client.ehlo("client.test")
            client.mail("sender@remote.test")
            client.rcpt(ALICE)
            return reply, client.data(MESSAGE)

    ready, (code, text) = await asyncio.to_thread(run)
    assert ready == b"2.0.0 Ready to start TLS"
    assert code == 250
    assert b" with ESMTPS id " in tls_mta.body_of(text.decode().rsplit(" ", 1)[-1])


def swaks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["swaks", "--timeout", "20", "--ehlo", "client.test", "--server", "127.0.0.1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_swaks_submits_over_starttls_and_over_implicit_tls(tls_mta: Mta) -> None:
    auth = ["--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", PASSWORD]
    route = ["--from", ALICE, "--to", BOB]
    starttls = await asyncio.to_thread(
        swaks, "--port", str(tls_mta.submission_port), "--tls", *auth, *route
    )
    on_connect = await asyncio.to_thread(
        swaks, "--port", str(submissions_port(tls_mta)), "--tls-on-connect", *auth, *route
    )
    for run in (starttls, on_connect):
        assert run.returncode == 0, run.stdout + run.stderr
        assert "TLS started with cipher TLSv1.3" in run.stdout
        assert "<~  235 2.7.0 Authentication successful" in run.stdout
        assert "<~  250 2.0.0 Ok: queued as " in run.stdout
    # Implicit TLS: no STARTTLS offered where TLS is already on.
    assert "STARTTLS" not in on_connect.stdout.split("EHLO", 1)[1]
    queued = tls_mta.queued()
    assert len(queued) == 2
    # Implicit TLS is TLS to the trace header too (RFC 3848).
    assert all(b" with ESMTPSA id " in tls_mta.body_of(item.message.id) for item in queued)


async def test_smtplib_smtp_ssl_on_the_submissions_listener(tls_mta: Mta) -> None:
    def run() -> tuple[str, tuple[int, bytes], tuple[int, bytes]]:
        port = submissions_port(tls_mta)
        with smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=no_verify()) as client:
            client.ehlo("client.test")
            assert "auth" in client.esmtp_features
            assert "starttls" not in client.esmtp_features
            subject = subject_of(client.sock)  # type: ignore[arg-type]
            login = client.login(ALICE, PASSWORD)
            again = client.docmd("STARTTLS")
        return subject, login, again

    subject, login, again = await asyncio.to_thread(run)
    assert subject == "CN=mx.example.test"
    assert login[0] == 235
    assert again == (554, b"5.5.1 Error: TLS already active")


async def test_a_second_starttls_is_refused(tls_mta: Mta) -> None:
    def run() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", tls_mta.port, timeout=30) as client:
            client.starttls(context=no_verify())
            again = client.docmd("STARTTLS")
            client.ehlo("client.test")
            return again, client.noop()

    again, noop = await asyncio.to_thread(run)
    assert again == (554, b"5.5.1 Error: TLS already active")
    assert noop[0] == 250  # the session goes on, under the first TLS layer


def read_reply(sock: socket.socket) -> str:
    """One reply, read byte by byte so nothing after it is taken off the socket."""
    data = b""
    while True:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
        lines = data.split(b"\r\n")
        if data.endswith(b"\r\n") and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            return data.decode().rstrip("\r\n")


async def test_commands_pipelined_after_starttls_are_discarded(
    start_mta: StartMta, pem: tuple[Path, Path]
) -> None:
    seen = MailFromSeen()
    mta = await start_mta(tls_cert_file=pem[0], tls_key_file=pem[1], hooks=seen)

    def run() -> list[str]:
        replies = []
        with socket.create_connection(("127.0.0.1", mta.port), timeout=30) as plain:
            replies.append(read_reply(plain))
            plain.sendall(b"EHLO client.test\r\n")
            replies.append(read_reply(plain))
            # One write: the injected MAIL rides in the same packet as STARTTLS.
            plain.sendall(b"STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n")
            replies.append(read_reply(plain))
            with no_verify().wrap_socket(plain) as tls:
                # Were the MAIL executed, its reply would come before this NOOP's.
                tls.sendall(b"NOOP\r\n")
                replies.append(read_reply(tls))
                tls.sendall(b"EHLO client.test\r\nRCPT TO:<bob@example.test>\r\n")
                replies.append(read_reply(tls))
                replies.append(read_reply(tls))
                tls.sendall(b"MAIL FROM:<real@remote.test>\r\n")
                replies.append(read_reply(tls))
        return replies

    replies = await asyncio.to_thread(run)
    assert replies[2] == "220 2.0.0 Ready to start TLS"
    assert replies[3] == "250 2.0.0 OK"
    assert replies[4].startswith("250-mx.example.test")
    assert replies[5] == "503 5.5.1 Error: need MAIL command"
    assert replies[6] == "250 2.1.0 Sender ok"
    # The handler saw only the MAIL sent under TLS.
    assert seen.senders == ["real@remote.test"]


async def test_a_renewed_certificate_is_served_on_the_next_connection(
    start_mta: StartMta, tmp_path: Path
) -> None:
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "cert.pem", live / "key.pem"
    first = ensure_self_signed(tmp_path / "one", "one.test")
    for source, target in zip(first, (cert, key), strict=True):
        shutil.copy(source, target)
    mta = await start_mta(
        tls_cert_file=cert,
        tls_key_file=key,
        tls_reload_seconds=0,
        submissions_port=free_loopback_port(),
    )

    def subjects() -> tuple[str, str]:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as client:
            client.starttls(context=no_verify())
            starttls = subject_of(client.sock)  # type: ignore[arg-type]
        port = submissions_port(mta)
        with smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=no_verify()) as client:
            implicit = subject_of(client.sock)  # type: ignore[arg-type]
        return starttls, implicit

    assert await asyncio.to_thread(subjects) == ("CN=one.test", "CN=one.test")
    renewed = ensure_self_signed(tmp_path / "two", "two.test")
    for source, target in zip(renewed, (cert, key), strict=True):
        shutil.copy(source, target.with_suffix(".new"))
        os.replace(target.with_suffix(".new"), target)
    assert await asyncio.to_thread(subjects) == ("CN=two.test", "CN=two.test")


async def test_no_starttls_without_a_certificate_and_no_submissions_listener(
    start_mta: StartMta,
) -> None:
    mta = await start_mta()

    def run() -> tuple[set[str], tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as client:
            client.ehlo("client.test")
            return set(client.esmtp_features), client.docmd("STARTTLS")

    features, reply = await asyncio.to_thread(run)
    assert "starttls" not in features
    assert reply == (454, b"4.7.0 TLS not available")
    assert [name for name, _, _ in mta.listeners] == ["smtp", "submission"]


async def test_a_submissions_port_without_a_certificate_fails_the_start(
    start_mta: StartMta,
) -> None:
    with pytest.raises(ValueError, match="tls_cert_file"):
        await start_mta(submissions_port=free_loopback_port())


async def test_garbage_instead_of_a_tls_handshake_is_the_clients_failure(
    tls_mta: Mta, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mairust.smtp.handler")

    def handler_records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "mairust.smtp.handler"]

    with socket.create_connection(("127.0.0.1", tls_mta.port), timeout=30) as plain:

        def start_tls_and_send_garbage() -> None:
            read_reply(plain)
            plain.sendall(b"EHLO client.test\r\n")
            read_reply(plain)
            plain.sendall(b"STARTTLS\r\n")
            assert read_reply(plain) == "220 2.0.0 Ready to start TLS"
            plain.sendall(b"HELO this is no ClientHello\r\n")

        await asyncio.to_thread(start_tls_and_send_garbage)
        for _ in range(100):
            if handler_records():
                break
            await asyncio.sleep(0.05)
    records = handler_records()
    assert [r.levelname for r in records] == ["INFO"], [r.getMessage() for r in records]
    assert records[0].exc_info is None
    assert "handshake failed" in records[0].getMessage()

    def noop() -> int:
        with smtplib.SMTP("127.0.0.1", tls_mta.port, timeout=30) as client:
            return client.noop()[0]

    assert await asyncio.to_thread(noop) == 250  # the listener keeps serving
