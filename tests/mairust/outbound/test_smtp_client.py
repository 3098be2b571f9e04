"""The outbound SMTP client against real servers on loopback: Postfix's smtp-sink, and a
scripted aiosmtpd server (tests/support/scripted_smtp.py) for replies smtp-sink cannot give."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import random
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from load.targets import LISTEN_PORTS, stop_process
from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.mx import Endpoint
from mairust.outbound.smtp_client import SmtpSession, default_ssl_context, deliver
from mairust.outbound.smtp_types import (
    ClientSettings,
    OutboundMessage,
    SessionUnavailable,
    Timeouts,
    TlsHandshakeFailed,
    TlsPolicy,
)
from mairust.outbound.wire_format import dot_unstuff, normalize
from tests.support.scripted_smtp import Script, ScriptedSmtpServer

SMTP_SINK = "/usr/sbin/smtp-sink"
FAST = Timeouts(connect=2, greeting=2, command=2, tls_handshake=2, data_init=2, data_end=2)
SETTINGS = ClientSettings(helo_name="client.test", timeouts=FAST)
TLS_HOST = "mx.tls.test"


def free_port(address: str) -> int:
    """A port free on ``address``, below the ephemeral range (see load.targets)."""
    for _ in range(100):
        port = random.choice(LISTEN_PORTS)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family) as probe:
            try:
                probe.bind((address, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port on {address}")


def message(*recipients: str, data: bytes = b"Subject: hi\r\n\r\nhello\r\n") -> OutboundMessage:
    return OutboundMessage("sender@client.test", recipients, data)


# -- smtp-sink -----------------------------------------------------------------------------


class Sink:
    """A running smtp-sink and what its verbose log says: sessions (EHLOs) and messages."""

    def __init__(self, address: str, port: int, log: Path) -> None:
        self.endpoint = Endpoint(host=f"sink-{address}", address=address, port=port)
        self.log = log

    def _text(self) -> str:
        return self.log.read_text(errors="replace")

    def sessions(self) -> int:
        return len(re.findall(r": EHLO ", self._text()))

    def messages(self) -> int:
        found = re.findall(r"mesg=(\d+)", self._text())
        return int(found[-1]) if found else 0

    def wait_for(self, sessions: int, messages: int) -> None:
        """smtp-sink logs after replying: give its log a moment to catch up."""
        give_up = time.monotonic() + 3
        while (self.sessions(), self.messages()) != (sessions, messages):
            if time.monotonic() > give_up:
                break
            time.sleep(0.02)
        assert (self.sessions(), self.messages()) == (sessions, messages)


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[Callable[..., Sink]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(address: str, *flags: str) -> Sink:
        port = free_port(address)
        log = tmp_path / f"sink-{address}-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [SMTP_SINK, "-u", "nobody", "-c", "-v", *flags, f"{address}:{port}", "100"],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        give_up = time.monotonic() + 10
        while time.monotonic() < give_up:
            assert process.poll() is None, "smtp-sink exited at start"
            try:
                with socket.create_connection((address, port), timeout=1):
                    return Sink(address, port, log)
            except OSError:
                time.sleep(0.02)
        raise AssertionError("smtp-sink did not listen within 10 s")

    yield start
    for process in started:
        stop_process(process, grace=5)


async def test_one_session_carries_many_pipelined_messages_to_smtp_sink(
    smtp_sink: Callable[..., Sink],
) -> None:
    sink = smtp_sink("127.0.0.10")
    messages = [message(f"r{i}@dest.test", f"s{i}@dest.test") for i in range(5)]
    async with await SmtpSession.open([sink.endpoint], SETTINGS) as session:
        assert session.capabilities.pipelining and session.capabilities.enhanced_status_codes
        results = [await session.send(m) for m in messages]
    assert all(r.delivered for result in results for r in result.recipients)
    assert {r.endpoint for result in results for r in result.recipients} == {sink.endpoint}
    assert results[0].recipients[0].reply.enhanced_code == "2.0.0"
    sink.wait_for(sessions=1, messages=5)
    # Reuse is the caller's choice: one message per session costs a session each.
    for m in messages[:2]:
        await deliver([sink.endpoint], [m], SETTINGS)
    sink.wait_for(sessions=3, messages=7)


async def test_a_refused_greeting_moves_on_to_the_next_host(
    smtp_sink: Callable[..., Sink],
) -> None:
    refusing = smtp_sink("127.0.0.11", "-f", "CONNECT")  # 500 5.3.0 as the greeting
    busy = smtp_sink("127.0.0.12", "-r", "CONNECT")  # 450 4.3.0
    good = smtp_sink("127.0.0.13")
    closed = Endpoint("closed", "127.0.0.14", free_port("127.0.0.14"))
    [result] = await deliver(
        [closed, refusing.endpoint, busy.endpoint, good.endpoint], [message("a@d.test")], SETTINGS
    )
    assert result.recipients[0].delivered
    assert result.recipients[0].endpoint == good.endpoint
    good.wait_for(sessions=1, messages=1)
    with pytest.raises(SessionUnavailable) as failure:
        await SmtpSession.open([refusing.endpoint, busy.endpoint], SETTINGS)
    assert [e for e, _ in failure.value.attempts] == [refusing.endpoint, busy.endpoint]
    assert "500" in failure.value.attempts[0][1] and "450" in failure.value.attempts[1][1]
    # A server that refuses to talk is not the recipient refusing: defer, never bounce.
    assert not failure.value.permanent
    [alone] = await deliver([refusing.endpoint], [message("a@d.test")], SETTINGS)
    assert alone.recipients[0].temporary and alone.recipients[0].stage == "connect"


async def test_421_from_smtp_sink_at_rcpt_defers_every_pending_recipient(
    smtp_sink: Callable[..., Sink],
) -> None:
    sink = smtp_sink("127.0.0.15", "-Q", "RCPT")
    first, second = await deliver(
        [sink.endpoint], [message("a@d.test", "b@d.test"), message("c@d.test")], SETTINGS
    )
    assert [r.reply.code for r in first.recipients] == [421, 421]
    assert all(r.temporary for r in first.recipients)
    assert second.recipients[0].temporary and second.recipients[0].stage == "session"
    assert sink.messages() == 0


async def test_8bit_mail_to_a_sink_without_8bitmime_bounces_unsent(
    smtp_sink: Callable[..., Sink],
) -> None:
    sink = smtp_sink("127.0.0.16", "-8")
    eight_bit = message("a@d.test", data="Subject: café\r\n\r\nnaïve\r\n".encode())
    plain = message("b@d.test")
    bounced, delivered = await deliver([sink.endpoint], [eight_bit, plain], SETTINGS)
    assert bounced.recipients[0].permanent
    assert bounced.recipients[0].reply.enhanced_code == "5.6.3"
    assert not bounced.recipients[0].reply.from_peer
    assert delivered.recipients[0].delivered
    sink.wait_for(sessions=1, messages=1)


async def test_dsn_parameters_are_passed_on_only_to_a_peer_that_offers_dsn(
    smtp_sink: Callable[..., Sink],
) -> None:
    dsn = OutboundMessage(
        "sender@client.test",
        ("a@d.test", "b@d.test"),
        b"Subject: dsn\r\n\r\nx\r\n",
        ret="hdrs",
        envid="id 1+",
        notify={"a@d.test": ("SUCCESS", "FAILURE")},
        orcpt={"a@d.test": "rfc822;A@d.test"},
    )
    offering = smtp_sink("127.0.0.10")
    [result] = await deliver([offering.endpoint], [dsn], SETTINGS)
    assert result.peer is not None and result.peer.dsn
    assert all(r.delivered for r in result.recipients)
    offering.wait_for(sessions=1, messages=1)
    log = offering.log.read_text()
    assert "MAIL FROM:<sender@client.test> RET=HDRS ENVID=id+201+2B" in log
    assert "RCPT TO:<a@d.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;A@d.test" in log
    assert "RCPT TO:<b@d.test>\n" in log  # nothing asked for b: nothing sent
    silent = smtp_sink("127.0.0.11", "-N")
    [plain] = await deliver([silent.endpoint], [dsn], SETTINGS)
    assert plain.peer is not None and not plain.peer.dsn
    silent.wait_for(sessions=1, messages=1)
    assert "RET=" not in silent.log.read_text() and "NOTIFY=" not in silent.log.read_text()


# -- the scripted server ---------------------------------------------------------------------


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedSmtpServer]]:
    servers: list[ScriptedSmtpServer] = []

    def start(script: Script, address: str = "127.0.0.17", **options: object) -> ScriptedSmtpServer:
        server = ScriptedSmtpServer(script, address=address, port=free_port(address), **options)  # type: ignore[arg-type]
        server.__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def endpoint_of(server: ScriptedSmtpServer, host: str = "scripted") -> Endpoint:
    return Endpoint(host=host, address=server.address, port=server.port)


@pytest.mark.parametrize("pipelining", [True, False])
async def test_one_refused_recipient_fails_alone(
    scripted: Callable[..., ScriptedSmtpServer], pipelining: bool
) -> None:
    extensions = ("PIPELINING",) if pipelining else ()
    server = scripted(
        Script(extensions=extensions, rcpt={"bad@d.test": ["550 5.1.1 No such user"]})
    )
    [result] = await deliver(
        [endpoint_of(server)], [message("good@d.test", "bad@d.test", "also@d.test")], SETTINGS
    )
    good, bad, also = result.recipients
    assert good.delivered and also.delivered
    assert (bad.permanent, bad.stage, bad.reply.code, bad.reply.enhanced_code) == (
        True,
        "rcpt",
        550,
        "5.1.1",
    )
    assert bad.reply.text == "No such user" and bad.endpoint == endpoint_of(server)
    [received] = server.messages
    assert received.rcpt_tos == ["good@d.test", "also@d.test"]
    # Pipelined: RCPTs and DATA were already written when the server read MAIL.
    [waiting] = server.sessions[0].waiting_at_mail
    if pipelining:
        assert waiting.count(b"RCPT TO:") == 3 and waiting.endswith(b"DATA\r\n")
    else:
        assert waiting == b""


async def test_451_then_250_defers_first_and_delivers_on_the_retry(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    server = scripted(
        Script(mail=["451 4.3.0 Busy, come back"], rcpt={"b@d.test": ["451 4.2.0 Later"]})
    )
    first, second = await deliver(
        [endpoint_of(server)], [message("a@d.test"), message("a@d.test", "b@d.test")], SETTINGS
    )
    assert first.recipients[0].temporary and first.recipients[0].stage == "mail"
    a, b = second.recipients
    assert a.delivered and b.temporary and b.reply.enhanced_code == "4.2.0"
    # The failed transaction was cleared with RSET before the next MAIL, in the same session.
    assert server.sessions[0].commands[1:4] == [
        "MAIL sender@client.test",
        "RSET",
        "MAIL sender@client.test",
    ]
    [retry] = await deliver([endpoint_of(server)], [message("b@d.test")], SETTINGS)
    assert retry.recipients[0].delivered
    assert [m.rcpt_tos for m in server.messages] == [["a@d.test"], ["b@d.test"]]


async def test_421_mid_session_defers_every_pending_recipient_but_keeps_final_ones(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    server = scripted(
        Script(
            rcpt={
                "gone@d.test": ["550 5.1.1 Gone"],
                "c@d.test": ["421 4.3.2 Shutting down"],
            }
        )
    )
    sent, before, after = await deliver(
        [endpoint_of(server)],
        [message("x@d.test"), message("gone@d.test", "b@d.test", "c@d.test"), message("y@d.test")],
        SETTINGS,
    )
    assert sent.recipients[0].delivered
    gone, b, c = before.recipients
    assert gone.permanent and gone.reply.code == 550
    assert (b.temporary, b.reply.code, c.temporary, c.reply.code) == (True, 421, True, 421)
    assert after.recipients[0].temporary and not after.recipients[0].reply.from_peer
    assert len(server.messages) == 1


async def test_a_refused_data_and_a_refused_message(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    server = scripted(
        Script(data=["452 4.3.1 Out of space"], end_of_data=["554 5.7.1 Spam refused"])
    )
    refused_data, refused_content, ok = await deliver(
        [endpoint_of(server)],
        [message("a@d.test"), message("b@d.test"), message("c@d.test")],
        SETTINGS,
    )
    assert refused_data.recipients[0].temporary and refused_data.recipients[0].stage == "data"
    assert refused_content.recipients[0].permanent
    assert refused_content.recipients[0].reply.enhanced_code == "5.7.1"
    assert ok.recipients[0].delivered


async def test_helo_when_ehlo_is_refused(scripted: Callable[..., ScriptedSmtpServer]) -> None:
    server = scripted(Script(ehlo="502 5.5.2 Command not implemented"))
    async with await SmtpSession.open([endpoint_of(server)], SETTINGS) as session:
        assert not session.capabilities.esmtp
        result = await session.send(message("a@d.test"))
    assert result.recipients[0].delivered
    assert server.sessions[0].commands[:2] == ["EHLO client.test", "HELO client.test"]


async def test_what_arrives_is_crlf_normalised_and_unstuffed(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    server = scripted(Script())
    raw = b"Subject: dots\n\n.leading\r..\rbare cr\nend"
    [result] = await deliver([endpoint_of(server)], [message("a@d.test", data=raw)], SETTINGS)
    assert result.recipients[0].delivered
    assert (
        server.messages[0].content == b"Subject: dots\r\n\r\n.leading\r\n..\r\nbare cr\r\nend\r\n"
    )


async def test_smtputf8_addresses_need_a_peer_that_offers_it(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    utf8 = OutboundMessage(
        "sender@client.test", ("jöran@d.test",), "Subject: hej\r\n\r\nå\r\n".encode()
    )
    plain_peer = scripted(Script(), smtputf8=False)
    [refused] = await deliver([endpoint_of(plain_peer)], [utf8], SETTINGS)
    assert refused.recipients[0].permanent and refused.recipients[0].reply.enhanced_code == "5.6.7"
    assert plain_peer.messages == []
    utf8_peer = scripted(Script(), address="127.0.0.18")
    [sent] = await deliver([endpoint_of(utf8_peer)], [utf8], SETTINGS)
    assert sent.recipients[0].delivered
    assert sorted(utf8_peer.messages[0].mail_options) == ["BODY=8BITMIME", "SMTPUTF8"]


async def test_utf8_header_fields_need_a_peer_that_offers_smtputf8(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    # ASCII envelope, raw UTF-8 in From and Subject (RFC 6532): an SMTPUTF8 message all the
    # same, never handed to a peer that only offers 8BITMIME (RFC 6531, RFC 6532).
    data = "From: José <sender@client.test>\r\nSubject: ¡Olé!\r\n\r\nhola\r\n".encode()
    utf8 = OutboundMessage("sender@client.test", ("a@d.test",), data)
    plain_peer = scripted(Script(), smtputf8=False, address="127.0.0.20")
    [refused] = await deliver([endpoint_of(plain_peer)], [utf8], SETTINGS)
    assert refused.recipients[0].permanent and refused.recipients[0].reply.enhanced_code == "5.6.7"
    assert not refused.recipients[0].reply.from_peer
    assert plain_peer.messages == []
    utf8_peer = scripted(Script(), address="127.0.0.21")
    [sent] = await deliver([endpoint_of(utf8_peer)], [utf8], SETTINGS)
    assert sent.recipients[0].delivered
    assert sorted(utf8_peer.messages[0].mail_options) == ["BODY=8BITMIME", "SMTPUTF8"]
    assert utf8_peer.messages[0].content.endswith(data)


async def test_a_message_over_the_peers_size_limit_bounces_unsent(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    server = scripted(Script(), size_limit=100)
    big, small = await deliver(
        [endpoint_of(server)], [message("a@d.test", data=b"x" * 200), message("b@d.test")], SETTINGS
    )
    assert big.recipients[0].permanent and big.recipients[0].reply.enhanced_code == "5.3.4"
    assert small.recipients[0].delivered
    assert server.messages[0].mail_options == [f"SIZE={len(message().data)}"]


async def test_a_silent_server_times_out_and_the_next_one_is_tried(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.19", 0)
    port = silent.sockets[0].getsockname()[1]
    server = scripted(Script())
    quick = ClientSettings(helo_name="client.test", timeouts=Timeouts(greeting=0.2))
    try:
        [result] = await deliver(
            [Endpoint("silent", "127.0.0.19", port), endpoint_of(server)],
            [message("a@d.test")],
            quick,
        )
    finally:
        silent.close()
    assert result.recipients[0].delivered and result.recipients[0].endpoint == endpoint_of(server)


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TLS_HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(TLS_HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.17"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_server(
    scripted: Callable[..., ScriptedSmtpServer], certificate: tuple[Path, Path]
) -> ScriptedSmtpServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return scripted(Script(), tls_context=context)


async def test_opportunistic_starttls_encrypts_and_says_ehlo_again(
    tls_server: ScriptedSmtpServer,
) -> None:
    [result] = await deliver([endpoint_of(tls_server, TLS_HOST)], [message("a@d.test")], SETTINGS)
    assert result.recipients[0].delivered and result.recipients[0].tls
    log = tls_server.sessions[0]
    assert log.tls and log.commands[:2] == ["EHLO client.test", "EHLO client.test"]


async def test_required_tls_verifies_with_the_given_context(
    tls_server: ScriptedSmtpServer, certificate: tuple[Path, Path]
) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    settings = ClientSettings(
        helo_name="client.test", tls=TlsPolicy.REQUIRED, ssl_context=trusting, timeouts=FAST
    )
    [result] = await deliver([endpoint_of(tls_server, TLS_HOST)], [message("a@d.test")], settings)
    assert result.recipients[0].delivered and result.recipients[0].tls


async def test_required_tls_with_a_failing_handshake_is_deferred_not_sent_in_clear(
    tls_server: ScriptedSmtpServer,
) -> None:
    # The system's CAs do not trust the test's self-signed certificate.
    settings = ClientSettings(helo_name="client.test", tls=TlsPolicy.REQUIRED, timeouts=FAST)
    [result] = await deliver([endpoint_of(tls_server, TLS_HOST)], [message("a@d.test")], settings)
    recipient = result.recipients[0]
    assert recipient.temporary and recipient.reply.enhanced_code == "4.7.5"
    assert "not sent in clear" in recipient.reply.text
    assert tls_server.messages == []


async def test_opportunistic_tls_with_a_failing_handshake_falls_back_to_clear(
    tls_server: ScriptedSmtpServer,
) -> None:
    strict = ssl.create_default_context()  # will not trust the self-signed certificate
    settings = ClientSettings(helo_name="client.test", ssl_context=strict, timeouts=FAST)
    [result] = await deliver([endpoint_of(tls_server, TLS_HOST)], [message("a@d.test")], settings)
    assert result.recipients[0].delivered and not result.recipients[0].tls
    # The first session got as far as the handshake; the second, in clear, delivered.
    first, second = tls_server.sessions
    assert (first.messages, first.tls) == ([], False)
    assert (len(second.messages), second.tls) == (1, False)


async def test_a_fallback_context_is_tried_before_clear_and_the_observer_hears_why(
    tls_server: ScriptedSmtpServer,
) -> None:
    heard: list[tuple[str, DeliveryFailure]] = []
    settings = ClientSettings(
        helo_name="client.test",
        ssl_context=ssl.create_default_context(),  # will not trust the self-signed certificate
        fallback_context=default_ssl_context(TlsPolicy.OPPORTUNISTIC),
        tls_observer=lambda endpoint, failure: heard.append((endpoint.host, failure)),
        timeouts=FAST,
    )
    [result] = await deliver([endpoint_of(tls_server, TLS_HOST)], [message("a@d.test")], settings)
    assert result.recipients[0].delivered and result.recipients[0].tls
    first, second = tls_server.sessions
    assert (first.messages, len(second.messages), second.tls) == ([], 1, True)
    [(host, failure)] = heard
    assert host == TLS_HOST and isinstance(failure, TlsHandshakeFailed)
    assert isinstance(failure.__cause__, ssl.SSLCertVerificationError)


async def test_required_tls_without_starttls_offered_is_deferred_unsent(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    server = scripted(Script())
    settings = ClientSettings(helo_name="client.test", tls=TlsPolicy.REQUIRED, timeouts=FAST)
    [result] = await deliver([endpoint_of(server)], [message("a@d.test")], settings)
    recipient = result.recipients[0]
    assert recipient.temporary and recipient.reply.enhanced_code == "4.7.4"
    assert recipient.stage == "connect" and "not sent in clear" in recipient.reply.text
    assert all(not c.startswith("MAIL") for c in server.sessions[0].commands)
    # A host after it that merely refuses connections does not hide why nothing was sent.
    closed = Endpoint("closed", "127.0.0.19", free_port("127.0.0.19"))
    [again] = await deliver([endpoint_of(server), closed], [message("a@d.test")], settings)
    assert again.recipients[0].reply.enhanced_code == "4.7.4"


async def test_tls_off_never_starts_tls(tls_server: ScriptedSmtpServer) -> None:
    settings = ClientSettings(helo_name="client.test", tls=TlsPolicy.OFF, timeouts=FAST)
    [result] = await deliver([endpoint_of(tls_server, TLS_HOST)], [message("a@d.test")], settings)
    assert result.recipients[0].delivered and not result.recipients[0].tls


async def test_an_address_that_could_inject_a_command_fails_alone_before_the_wire(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    server = scripted(Script(), address="127.0.0.18")
    evil = "x@d.test>\r\nRCPT TO:<y@d.test"
    [result] = await deliver([endpoint_of(server)], [message("a@d.test", evil)], SETTINGS)
    good, bad = result.recipients
    assert good.delivered
    assert bad.permanent and bad.reply.enhanced_code == "5.1.3" and not bad.reply.from_peer
    assert server.messages[0].rcpt_tos == ["a@d.test"]
    assert not any("y@d.test" in c for c in server.sessions[0].commands)
    bad_sender = OutboundMessage("s@d.test\r\nQUIT", ("a@d.test",), b"x\r\n")
    [refused] = await deliver([endpoint_of(server)], [bad_sender], SETTINGS)
    assert refused.recipients[0].reply.enhanced_code == "5.1.7"


async def test_messages_per_session_bounds_connection_reuse(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    server = scripted(Script(), address="127.0.0.18")
    messages = [message(f"r{i}@d.test") for i in range(5)]
    results = await deliver([endpoint_of(server)], messages, SETTINGS, messages_per_session=2)
    assert all(r.recipients[0].delivered for r in results)
    assert [len(log.messages) for log in server.sessions] == [2, 2, 1]


async def test_a_session_the_peer_closed_is_not_usable(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    server = scripted(Script(mail=["421 4.3.2 Going down"]), address="127.0.0.18")
    async with await SmtpSession.open([endpoint_of(server)], SETTINGS) as session:
        assert session.usable
        [first] = (await session.send(message("a@d.test"))).recipients
        assert first.temporary and first.reply.code == 421 and first.stage == "session"
        assert not session.usable


async def test_an_ipv6_endpoint_after_an_ipv4_one_that_refuses(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    server = scripted(Script(), address="::1")
    refusing = Endpoint("mx.dual.test", "127.0.0.19", free_port("127.0.0.19"))
    v6 = Endpoint("mx.dual.test", "::1", server.port)
    [result] = await deliver([refusing, v6], [message("a@d.test")], SETTINGS)
    assert result.recipients[0].delivered and result.recipients[0].endpoint == v6
    assert server.messages[0].rcpt_tos == ["a@d.test"]


async def test_a_421_greeting_moves_on_to_the_next_host(
    scripted: Callable[..., ScriptedSmtpServer],
) -> None:
    busy = scripted(Script(greeting="421 4.7.0 Too many connections"), address="127.0.0.17")
    ready = scripted(Script(), address="127.0.0.18")
    with pytest.raises(SessionUnavailable) as failure:
        await SmtpSession.open([endpoint_of(busy)], SETTINGS)
    assert "421 4.7.0 Too many connections" in str(failure.value)
    [result] = await deliver(
        [endpoint_of(busy), endpoint_of(ready)], [message("a@d.test")], SETTINGS
    )
    assert result.recipients[0].endpoint == endpoint_of(ready) and result.recipients[0].delivered


# -- the bytes on the wire -------------------------------------------------------------------


class WireRecorder:
    """A minimal SMTP server on loopback that records every byte a client sends, and each
    DATA section as it came (still dot-stuffed)."""

    def __init__(self) -> None:
        self.sessions: list[bytes] = []
        self.sections: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received = bytearray()
        writer.write(b"220 raw.test\r\n")
        try:
            while line := await reader.readuntil(b"\r\n"):
                received += line
                verb = line[:4].upper()
                if verb == b"EHLO":
                    # SMTPUTF8 too: a random body may be all header section, with UTF-8 in it.
                    writer.write(
                        b"250-raw.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                    )
                elif verb == b"DATA":
                    writer.write(b"354 go on\r\n")
                    await writer.drain()
                    section = bytearray()
                    while True:
                        data_line = await reader.readuntil(b"\r\n")
                        section += data_line
                        if data_line == b".\r\n":
                            break
                    received += section
                    self.sections.append(bytes(section))
                    writer.write(b"250 2.0.0 Ok\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                else:
                    writer.write(b"250 Ok\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.sessions.append(bytes(received))
            writer.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(
            st.sampled_from([b"\r", b"\n", b"\r\n", b".", b"..", b"x", b"\xc3\xa9", b" "]),
            max_size=40,
        ).map(b"".join),
        min_size=1,
        max_size=3,
    )
)
def test_no_bare_cr_or_lf_ever_reaches_the_wire(bodies: list[bytes]) -> None:
    recorder = WireRecorder()

    async def session() -> list[bytes]:
        server = await asyncio.start_server(recorder.serve, "127.0.0.1", 0)
        endpoint = Endpoint("raw", "127.0.0.1", server.sockets[0].getsockname()[1])
        try:
            messages = [message("a@d.test", data=body) for body in bodies]
            results = await deliver([endpoint], messages, SETTINGS)
        finally:
            server.close()
            await server.wait_closed()
        assert all(r.recipients[0].delivered for r in results)
        return [normalize(body).data for body in bodies]

    expected = asyncio.run(session())
    [wire] = recorder.sessions
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", wire) is None
    # Each DATA section, unstuffed, is the normalised message.
    assert [dot_unstuff(section) for section in recorder.sections] == expected
