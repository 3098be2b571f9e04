"""The delivery client's LMTP mode (RFC 2033) against a private Dovecot LMTP server on
loopback: LHLO, a reply per accepted recipient after the final dot (one unknown at RCPT,
one failing alone after the data), the message in the known users' Maildirs with its
bytes intact, over TCP and over the unix socket, through the destination sender."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mairust.outbound.mx import Endpoint, parse_relay_host, resolve_route
from mairust.outbound.smtp_client import deliver
from mairust.outbound.smtp_sender import SmtpDestinationSender
from mairust.outbound.smtp_types import ClientSettings, OutboundMessage, Timeouts
from tests.mairust.outbound.test_smtp_sender import item, outgoing, port_free_on
from tests.support.dict_resolver import DictResolver
from tests.support.dovecot_lmtp import DovecotLmtp

ADDRESS = "127.0.0.100"
SETTINGS = ClientSettings(helo_name="out.ours.test", timeouts=Timeouts(connect=5, command=10))
# A line that needs dot-stuffing, 8-bit text, a long header: what must come out as it went in.
BODY = (
    "From: ann@ours.test\r\nTo: ann@lmtp.test\r\nSubject: LMTP\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "Grüße aus dem Test\r\n.a line that starts with a dot\r\n..two dots\r\n.\r\n"
    "the end\r\n"
).encode()


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotLmtp]:
    port = port_free_on(ADDRESS)
    users = ("ann@lmtp.test", "carl@lmtp.test")
    with DovecotLmtp(ADDRESS, port, users, unwritable=("dora@lmtp.test",)) as server:
        yield server


def stored_as_sent(stored: bytes) -> bool:
    """Dovecot keeps Maildir files with LF line ends and puts its trace headers on top."""
    return stored.endswith(BODY.replace(b"\r\n", b"\n"))


async def test_a_reply_per_recipient_and_the_bytes_land_in_the_maildir(
    dovecot: DovecotLmtp,
) -> None:
    endpoint = Endpoint("[127.0.0.100]", ADDRESS, dovecot.port, protocol="lmtp")
    recipients = ("ann@lmtp.test", "bob@lmtp.test", "carl@lmtp.test", "dora@lmtp.test")
    message = OutboundMessage("sender@ours.test", recipients, BODY)
    [result] = await deliver([endpoint], [message], SETTINGS)
    ann, bob, carl, dora = (result.result_for(r) for r in recipients)
    # Each accepted recipient has its own reply, in RCPT order, naming it.
    assert ann.delivered and "<ann@lmtp.test>" in ann.reply.text
    assert carl.delivered and "<carl@lmtp.test>" in carl.reply.text
    assert bob.stage == "rcpt" and bob.permanent and bob.reply.status == "5.1.1"
    assert dora.stage == "data" and dora.temporary and "dora@lmtp.test" in dora.reply.text
    for user in ("ann@lmtp.test", "carl@lmtp.test"):
        [stored] = dovecot.delivered(user)
        assert stored_as_sent(stored)
        assert b"Received: from out.ours.test" in stored  # our LHLO name, Dovecot's trace
    assert dovecot.delivered("dora@lmtp.test") == []


async def test_the_sender_routes_an_lmtp_relay_to_the_unix_socket_without_mx(
    dovecot: DovecotLmtp,
) -> None:
    # No DNS records at all: an LMTP relay is never looked up for MX.
    sender = SmtpDestinationSender(DictResolver({}), SETTINGS)
    relay = f"lmtp:{dovecot.socket_path}"
    rows = (item(1, "ann@lmtp.test", "m-unix"), item(2, "nobody@lmtp.test", "m-unix"))
    before = len(dovecot.delivered("ann@lmtp.test"))
    replies = await sender.send(f"relay:{relay}", relay, [outgoing(*rows)])
    assert replies[1].delivered and replies[1].address == dovecot.socket_path
    assert replies[2].permanent and replies[2].enhanced == "5.1.1"
    assert len(dovecot.delivered("ann@lmtp.test")) == before + 1


async def test_the_sender_routes_an_lmtp_relay_over_tcp_two_messages_in_a_row(
    dovecot: DovecotLmtp,
) -> None:
    resolver = DictResolver({"store.lmtp.test": {"A": [ADDRESS]}})
    sender = SmtpDestinationSender(resolver, SETTINGS)
    relay = f"lmtp:store.lmtp.test:{dovecot.port}"
    before = len(dovecot.delivered("carl@lmtp.test"))
    messages = [
        outgoing(item(3, "carl@lmtp.test", "m3")),
        outgoing(item(5, "carl@lmtp.test", "m5")),
    ]
    replies = await sender.send(f"relay:{relay}", relay, messages)
    assert replies[3].delivered and replies[3].host == "store.lmtp.test"
    assert replies[5].delivered
    assert len(dovecot.delivered("carl@lmtp.test")) == before + 2


async def test_a_stopped_lmtp_server_defers(dovecot: DovecotLmtp) -> None:
    sender = SmtpDestinationSender(DictResolver({}), SETTINGS)
    relay = f"lmtp:{dovecot.root}/run/no-such-socket"
    replies = await sender.send(f"relay:{relay}", relay, [outgoing(item(4, "ann@lmtp.test"))])
    assert not replies[4].delivered and not replies[4].permanent


def test_lmtp_relays_parse_to_lmtp_routes() -> None:
    unix = parse_relay_host("lmtp:/run/Dovecot/lmtp")
    assert (unix.protocol, unix.literal, unix.port) == ("lmtp", "/run/Dovecot/lmtp", 0)
    tcp = parse_relay_host("lmtp:[::1]:24")
    assert (tcp.protocol, tcp.literal, tcp.port) == ("lmtp", "::1", 24)
    route = resolve_route("x.test", DictResolver({}), relay_host="lmtp:/run/dovecot/lmtp")
    [endpoint] = route.endpoints()
    assert endpoint.unix and endpoint.protocol == "lmtp"
    with pytest.raises(ValueError):
        parse_relay_host("lmtp:store.example")  # LMTP has no port of its own
