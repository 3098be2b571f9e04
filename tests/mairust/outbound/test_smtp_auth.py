"""AUTH towards a relay host against a real SMTP server on loopback (aiosmtpd with an
authenticator) that wants AUTH after STARTTLS: PLAIN, else LOGIN, only after TLS (the
server's session log shows where each AUTH came), never to a relay without STARTTLS or
with a certificate we cannot verify, and a 535 makes a temporary failure (4.7.8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mairust.outbound.mx import Endpoint
from mairust.outbound.smtp_client import deliver
from mairust.outbound.smtp_types import (
    ClientSettings,
    Credentials,
    MessageResult,
    OutboundMessage,
    Timeouts,
)
from tests.mairust.outbound.test_smtp_sender import port_free_on
from tests.support.scripted_smtp import Script, ScriptedSmtpServer
from tests.support.tls_certs import LoopbackCertificate, self_signed

ADDRESS = "127.0.0.101"
RELAY = "smtp.relay.test"
LOGINS = {"relay-user": "s3cret pass"}
GOOD = Credentials("relay-user", "s3cret pass")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCertificate:
    return self_signed(tmp_path_factory.mktemp("relay-tls"), RELAY, ADDRESS)


@pytest.fixture
def relay() -> Iterator[Callable[..., ScriptedSmtpServer]]:
    servers: list[ScriptedSmtpServer] = []

    def start(**options: Any) -> ScriptedSmtpServer:
        server = ScriptedSmtpServer(
            Script(), address=ADDRESS, port=port_free_on(ADDRESS), logins=LOGINS, **options
        )
        servers.append(server.__enter__())
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


async def send(
    server: ScriptedSmtpServer, credentials: Credentials, context: Any = None
) -> MessageResult:
    settings = ClientSettings(
        helo_name="out.ours.test",
        ssl_context=context,
        timeouts=Timeouts(connect=2, command=5),
        credentials=credentials,
    )
    endpoint = Endpoint(RELAY, ADDRESS, server.port)
    message = OutboundMessage("ann@ours.test", ("joe@far.test",), b"Subject: x\r\n\r\nhi\r\n")
    [result] = await deliver([endpoint], [message], settings)
    return result


async def test_plain_after_starttls_and_never_before(
    relay: Callable[..., ScriptedSmtpServer], certificate: LoopbackCertificate
) -> None:
    server = relay(tls_context=certificate.server_context())
    result = await send(server, GOOD, certificate.client_context())
    assert result.recipients[0].delivered and result.recipients[0].tls
    [log] = server.sessions
    assert log.commands[:3] == ["EHLO out.ours.test", "EHLO out.ours.test", "AUTH PLAIN"]
    assert log.auth == [("PLAIN", True)] and log.logins == [("relay-user", True)]
    assert len(server.messages) == 1


async def test_login_when_the_relay_offers_no_plain(
    relay: Callable[..., ScriptedSmtpServer], certificate: LoopbackCertificate
) -> None:
    server = relay(tls_context=certificate.server_context(), auth_exclude=("PLAIN",))
    result = await send(server, GOOD, certificate.client_context())
    assert result.recipients[0].delivered
    [log] = server.sessions
    assert log.auth == [("LOGIN", True)] and log.logins == [("relay-user", True)]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_a_relay_without_starttls_defers_and_hears_no_credentials(
    relay: Callable[..., ScriptedSmtpServer],
) -> None:
    # This relay would even take AUTH in clear: we must not offer it the chance.
    server = relay(auth_require_tls=False)
    result = await send(server, GOOD)
    [recipient] = result.recipients
    assert recipient.temporary and recipient.stage == "connect"
    assert recipient.reply.status == "4.7.4"
    assert "credentials are never sent in clear" in recipient.reply.text
    [log] = server.sessions
    assert log.auth == [] and log.logins == [] and server.messages == []
    assert not any(command.startswith("AUTH") for command in log.commands)


async def test_credentials_need_a_certificate_we_can_verify(
    relay: Callable[..., ScriptedSmtpServer], certificate: LoopbackCertificate
) -> None:
    # No trust given for the relay's self-signed certificate: the system's CAs refuse it,
    # so the credentials stay home even though our MX policy is only opportunistic.
    server = relay(tls_context=certificate.server_context())
    result = await send(server, GOOD)
    [recipient] = result.recipients
    assert recipient.temporary and recipient.reply.status == "4.7.5"
    assert all(log.auth == [] for log in server.sessions) and server.messages == []


async def test_wrong_credentials_are_a_temporary_failure_with_the_relays_reply(
    relay: Callable[..., ScriptedSmtpServer], certificate: LoopbackCertificate
) -> None:
    server = relay(tls_context=certificate.server_context())
    result = await send(server, Credentials("relay-user", "wrong"), certificate.client_context())
    [recipient] = result.recipients
    assert recipient.temporary and recipient.stage == "connect"
    assert recipient.reply.status == "4.7.8"
    assert "535" in recipient.reply.text and "as relay-user" in recipient.reply.text
    assert "wrong" not in recipient.reply.text
    [log] = server.sessions
    assert log.logins == [("relay-user", False)] and server.messages == []
    assert not any(command.startswith("MAIL") for command in log.commands)


def test_the_password_is_never_in_a_repr() -> None:
    assert "s3cret" not in repr(GOOD) and "relay-user" in repr(GOOD)
