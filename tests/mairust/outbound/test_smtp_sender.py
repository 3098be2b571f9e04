"""The delivery loop's SMTP sender: routes through a real loopback DNS server, sessions to
real loopback SMTP servers, a reply per leased row."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from load.targets import LISTEN_PORTS
from mairust.auth.dns_resolver import CachingResolver
from mairust.model.message import MessageRef
from mairust.model.outbound import OutboundItem, RecipientState
from mairust.outbound.delivery import DestinationSender, OutgoingMessage
from mairust.outbound.smtp_sender import SmtpDestinationSender, outbound_message
from mairust.outbound.smtp_types import ClientSettings, Timeouts, TlsPolicy
from tests.support.dns_server import ZoneServer
from tests.support.scripted_smtp import Script, ScriptedSmtpServer

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SETTINGS = ClientSettings(helo_name="client.test", timeouts=Timeouts(connect=2, command=2))


def port_free_on(*addresses: str) -> int:
    for _ in range(100):
        port = random.choice(LISTEN_PORTS)
        try:
            for address in addresses:
                with socket.socket() as probe:
                    probe.bind((address, port))
        except OSError:
            continue
        return port
    raise OSError(f"no port free on all of {addresses}")


def item(row_id: int, recipient: str, message_id: str = "m1", **dsn: object) -> OutboundItem:
    ref = MessageRef(id=message_id, size=10, sha256="0" * 64, blob_key=f"blob/{message_id}")
    return OutboundItem(
        id=row_id,
        message=ref,
        mail_from="ann@ours.test",
        recipient=recipient,
        destination=recipient.rpartition("@")[2],
        state=RecipientState.LEASED,
        attempts=0,
        next_attempt_at=T0,
        created_at=T0,
        **dsn,  # type: ignore[arg-type]
    )


def outgoing(*items: OutboundItem) -> OutgoingMessage:
    first = items[0]
    return OutgoingMessage(first.message, first.mail_from, items, b"Subject: x\r\n\r\nhi\r\n")


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[CachingResolver, int, ScriptedSmtpServer]]:
    """far.test: MX 10 on 127.0.0.11 (nothing listens), MX 20 on 127.0.0.12 (a server)."""
    port = port_free_on("127.0.0.11", "127.0.0.12")
    zone: dict[str, dict[str, Any]] = {
        "far.test": {"MX": [(10, "mx1.far.test"), (20, "mx2.far.test")]},
        "mx1.far.test": {"A": ["127.0.0.11"]},
        "mx2.far.test": {"A": ["127.0.0.12"]},
        "nomail.test": {"MX": [(0, ".")]},
        "down.test": {"MX": [(10, "mx.down.test")]},
    }
    script = Script(rcpt={"nobody@far.test": ["550 5.1.1 No such user"]})
    with (
        ZoneServer(zone, servfail_names=["down.test"]) as dns,
        ScriptedSmtpServer(script, address="127.0.0.12", port=port) as server,
    ):
        yield CachingResolver(["127.0.0.1"], port=dns.port, timeout=1.0), port, server


async def test_rows_get_the_reply_of_the_mx_that_answered(
    world: tuple[CachingResolver, int, ScriptedSmtpServer],
) -> None:
    resolver, port, server = world
    sender: DestinationSender = SmtpDestinationSender(resolver, SETTINGS, port=port)
    first = outgoing(item(1, "joe@far.test"), item(2, "nobody@far.test"))
    second = outgoing(item(3, "kim@far.test", "m2"))
    replies = await sender.send("far.test", None, [first, second])
    assert replies[1].delivered and replies[3].delivered
    assert (replies[1].host, replies[1].address) == ("mx2.far.test", "127.0.0.12")
    assert replies[2].permanent and str(replies[2]) == "550 5.1.1 No such user"
    assert [m.rcpt_tos for m in server.messages[-2:]] == [["joe@far.test"], ["kim@far.test"]]


@pytest.mark.parametrize(
    ("destination", "code", "enhanced"),
    [("nomail.test", 554, "5.1.10"), ("down.test", 451, "4.4.3"), ("gone.test", 554, "5.1.2")],
)
async def test_a_destination_without_a_route_answers_every_row(
    world: tuple[CachingResolver, int, ScriptedSmtpServer],
    destination: str,
    code: int,
    enhanced: str,
) -> None:
    resolver, port, _ = world
    sender = SmtpDestinationSender(resolver, SETTINGS, port=port)
    rows = outgoing(item(1, f"a@{destination}"), item(2, f"b@{destination}"))
    replies = await sender.send(destination, None, [rows])
    assert {(r.code, r.enhanced, r.host) for r in replies.values()} == {(code, enhanced, None)}
    assert set(replies) == {1, 2}


async def test_a_relay_host_is_used_instead_of_mx(
    world: tuple[CachingResolver, int, ScriptedSmtpServer],
) -> None:
    resolver, port, server = world
    sender = SmtpDestinationSender(resolver, SETTINGS, port=1)  # MX port unused for a relay
    relay = f"[127.0.0.12]:{port}"
    replies = await sender.send(f"relay:{relay}", relay, [outgoing(item(7, "x@nomail.test"))])
    assert replies[7].delivered and replies[7].address == "127.0.0.12"
    assert server.messages[-1].rcpt_tos == ["x@nomail.test"]


async def test_a_destinations_own_tls_policy_wins(
    world: tuple[CachingResolver, int, ScriptedSmtpServer],
) -> None:
    resolver, port, server = world  # the server offers no STARTTLS
    asked: list[str] = []

    def tls_for(destination: str) -> TlsPolicy | None:
        asked.append(destination)
        return TlsPolicy.REQUIRED if destination == "far.test" else None

    sender = SmtpDestinationSender(resolver, SETTINGS, port=port, tls_for=tls_for)
    before = len(server.messages)
    replies = await sender.send("far.test", None, [outgoing(item(1, "joe@far.test"))])
    assert (replies[1].code, replies[1].enhanced) == (451, "4.7.4")
    assert len(server.messages) == before and asked == ["far.test"]


def test_the_rows_dsn_requests_go_with_the_message() -> None:
    message = outbound_message(
        outgoing(
            item(1, "a@far.test", notify=("SUCCESS",), orcpt="rfc822;A@far.test", ret="HDRS"),
            item(2, "b@far.test", envid="ignored: the first row's counts"),
            item(3, "a@far.test", notify=("SUCCESS",)),
        )
    )
    assert message.recipients == ("a@far.test", "b@far.test")
    assert (message.ret, message.envid) == ("HDRS", None)
    assert message.notify == {"a@far.test": ("SUCCESS",)}
    assert message.orcpt == {"a@far.test": "rfc822;A@far.test"}
