"""The PROXY protocol: the header parsed from a stream, then a real front-end on loopback
behind a "proxy" at 127.0.0.5 (the listed one) and a client at 127.0.0.6 (not listed).

The client a header names must be the one SPF, the per-IP limits, the Received: header
and AUTH's TLS rule see; a header from an unlisted peer names nobody; a listed proxy
without a valid header in time is closed, and the server goes on serving.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import ssl
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mairust.config import AuthSettings, SmtpSettings
from mairust.smtp import replies
from mairust.smtp.proxy_header import ProxyHeaderError, ProxySources, read_proxy_header
from mairust.smtp.tls import ensure_self_signed
from tests.mairust.smtp.test_handler import checking_auth

if TYPE_CHECKING:
    from tests.mairust.smtp.conftest import Mta, StartMta

PROXY = "127.0.0.5"
NOT_LISTED = "127.0.0.6"
CLIENT = "203.0.113.7"
OTHER_CLIENT = "203.0.113.8"
CLIENT6 = "2001:db8::7"
ALICE = "alice@example.test"
SENDER = "sender@remote.test"
# SPF passes only for the client behind the proxy, never for the proxy's own address.
SPF_ZONE = {"remote.test": {"TXT": [f"v=spf1 ip4:{CLIENT} ip6:{CLIENT6} -all"]}}
MESSAGE = b"From: sender@remote.test\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nhi\r\n.\r\n"
QUEUED = re.compile(r"250 2\.0\.0 Ok: queued as ([0-9A-Z]{26})")
SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
HEADER_SECONDS = 0.3


def v2(source: str, command: int = 0x1, tlvs: bytes = b"") -> bytes:
    """A v2 header (TCP over the source's family) from ``source``:40000 to port 25."""
    address = ipaddress.ip_address(source)
    if address.version == 4:
        family, destination = 0x11, ipaddress.ip_address("192.0.2.25")
    else:
        family, destination = 0x21, ipaddress.ip_address("2001:db8::25")
    body = address.packed + destination.packed + struct.pack("!HH", 40000, 25) + tlvs
    return SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


LOCAL = SIGNATURE + b"\x20\x00\x00\x00"  # v2 LOCAL, no addresses: a health check
NOOP_TLV = b"\x04\x00\x03abc"  # PP2_TYPE_NOOP: skipped


# -- the header, read from a stream --


async def _read(data: bytes, eof: bool = True) -> tuple[tuple[str, int] | None, bytes]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    client = await read_proxy_header(reader, HEADER_SECONDS)
    return client, bytes(reader._buffer)  # type: ignore[attr-defined]


async def test_v2_names_the_client_and_leaves_what_follows() -> None:
    assert await _read(v2(CLIENT) + b"EHLO x\r\n") == ((CLIENT, 40000), b"EHLO x\r\n")
    assert await _read(v2(CLIENT6, tlvs=NOOP_TLV)) == ((CLIENT6, 40000), b"")


async def test_v1_text_names_the_client() -> None:
    line = f"PROXY TCP4 {CLIENT} 192.0.2.25 40001 25\r\nQUIT\r\n".encode()
    assert await _read(line) == ((CLIENT, 40001), b"QUIT\r\n")


@pytest.mark.parametrize("header", [LOCAL, b"PROXY UNKNOWN\r\n"])
async def test_local_and_unknown_keep_the_socket_address(header: bytes) -> None:
    assert await _read(header) == (None, b"")


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (v2(CLIENT)[:20], "Connection lost"),  # truncated inside the addresses
        (b"PRO", "connection ended"),
        (b"EHLO client.test\r\n", "unrecognized signature"),
        (SIGNATURE + b"\x30\x11\x00\x0c" + bytes(12), "illegal version"),
        (b"PROXY TCP4 999.0.0.1 192.0.2.25 1 25\r\n", "address malformed"),
    ],
)
async def test_bad_headers_are_errors(header: bytes, why: str) -> None:
    with pytest.raises(ProxyHeaderError, match=why):
        await _read(header)


async def test_a_slow_header_runs_out_of_time() -> None:
    with pytest.raises(ProxyHeaderError, match=r"within 0\.3 s"):
        await _read(v2(CLIENT)[:14], eof=False)


def test_only_listed_networks_are_proxies() -> None:
    assert ProxySources.of(SmtpSettings()) is None
    sources = ProxySources.of(SmtpSettings(proxy_protocol_from=["127.0.0.5/32", "fd00::/8"]))
    assert sources is not None
    assert [sources.listed(ip) for ip in (PROXY, "::ffff:127.0.0.5", "fd00::1")] == [True] * 3
    assert [sources.listed(ip) for ip in (NOT_LISTED, CLIENT, "", "/tmp/sock")] == [False] * 4
    with pytest.raises(ValueError, match="not-a-net"):
        SmtpSettings(proxy_protocol_from=["not-a-net"])


# -- a front-end behind a proxy --


class Connection:
    """A blocking client from ``source`` that sends ``first`` before anything else."""

    def __init__(self, port: int, source: str, first: bytes = b"") -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=10, source_address=(source, 0)
        )
        if first:
            self.sock.sendall(first)
        self.file = self.sock.makefile("rb")

    def reply(self) -> str:
        lines: list[str] = []
        while True:
            line = self.file.readline().decode().rstrip("\r\n")
            if not line:
                return "\r\n".join(lines)  # closed: what came before it
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\r\n".join(lines)

    def send(self, data: bytes | str) -> str:
        self.sock.sendall(data if isinstance(data, bytes) else data.encode() + b"\r\n")
        return self.reply()

    def deliver(self) -> str:
        """EHLO, one message to alice; the last reply (a refusal stops the dialog)."""
        for command in ("EHLO client.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{ALICE}>"):
            answer = self.send(command)
            if not answer.startswith("250"):
                return answer
        assert self.send("DATA").startswith("354")
        return self.send(MESSAGE)

    def start_tls(self) -> None:
        assert self.send("STARTTLS").startswith("220 ")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.file.close()
        self.sock = context.wrap_socket(self.sock, server_hostname="mx.example.test")
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _talk(port: int, source: str, first: bytes = b"") -> tuple[str, str]:
    """(greeting, reply to a whole message) over one connection."""
    connection = Connection(port, source, first)
    try:
        return connection.reply(), connection.deliver()
    finally:
        connection.close()


async def _behind_proxy(
    start_mta: StartMta, tls: tuple[Path, Path] | None = None, **admission: float
) -> Mta:
    return await start_mta(
        auth=checking_auth(AuthSettings(trusted_networks=["127.0.0.0/8"]), SPF_ZONE),
        auth_settings={"trusted_networks": ["127.0.0.0/8"]},
        proxy_protocol_from=[f"{PROXY}/32"],
        proxy_protocol_timeout=HEADER_SECONDS,
        admission=admission,
        **({} if tls is None else {"tls_cert_file": tls[0], "tls_key_file": tls[1]}),
    )


def _stored_header(mta: Mta, reply: str) -> str:
    match = QUEUED.fullmatch(reply)
    assert match, reply
    return mta.body_of(match.group(1)).split(b"\r\n\r\n", 1)[0].decode()


async def test_the_client_behind_the_proxy_is_checked_and_stamped(
    start_mta: StartMta, tmp_path: Path
) -> None:
    mta = await _behind_proxy(start_mta, ensure_self_signed(tmp_path / "tls", "mx.example.test"))

    def run(starttls: bool) -> tuple[str, str]:
        connection = Connection(mta.port, PROXY, v2(CLIENT, tlvs=NOOP_TLV))
        try:
            assert connection.reply().startswith("220 ")
            ehlo = connection.send("EHLO client.test")
            if starttls:
                connection.start_tls()
            return ehlo, connection.deliver()
        finally:
            connection.close()

    for starttls in (False, True):  # after STARTTLS, too
        ehlo, reply = await asyncio.to_thread(run, starttls)
        # AUTH in the clear is for loopback clients: the proxy is one, its client is not.
        assert "AUTH" not in ehlo
        header = _stored_header(mta, reply)
        assert f"[{CLIENT}]" in header and PROXY not in header, header
        # SPF passes only for the client's address (127.0.0.5 would also skip the checks).
        assert "spf=pass" in header, header


async def test_an_ipv6_client_and_the_health_check(start_mta: StartMta) -> None:
    mta = await _behind_proxy(start_mta)
    _, reply = await asyncio.to_thread(_talk, mta.port, PROXY, v2(CLIENT6))
    header = _stored_header(mta, reply)
    assert f"[IPv6:{CLIENT6}]" in header and "spf=pass" in header, header
    _, reply = await asyncio.to_thread(_talk, mta.port, PROXY, LOCAL)
    header = _stored_header(mta, reply)
    # LOCAL is the balancer's own connection: its loopback address, trusted, no SPF asked.
    assert f"[{PROXY}]" in header and "spf=" not in header, header


async def test_per_ip_limits_count_the_client_not_the_proxy(start_mta: StartMta) -> None:
    mta = await _behind_proxy(start_mta, messages_per_minute_per_ip=1, message_burst_per_ip=1)
    results = [
        await asyncio.to_thread(_talk, mta.port, PROXY, v2(client))
        for client in (CLIENT, CLIENT, OTHER_CLIENT)
    ]
    assert [reply[:3] for _, reply in results] == ["250", "450", "250"], results
    assert results[1][1] == replies.RATE_LIMITED_CLIENT


async def test_the_greeting_pause_is_the_clients_and_the_header_no_early_talk(
    start_mta: StartMta,
) -> None:
    mta = await _behind_proxy(start_mta, greet_pause_seconds=0.2)

    def early_talker() -> str:
        connection = Connection(mta.port, PROXY, v2(CLIENT) + b"EHLO client.test\r\n")
        try:
            return connection.reply()
        finally:
            connection.close()

    polite, early = await asyncio.gather(
        asyncio.to_thread(_talk, mta.port, PROXY, v2(CLIENT)), asyncio.to_thread(early_talker)
    )
    assert polite[0].startswith("220 ") and polite[1].startswith("250 2.0.0"), polite
    assert early == replies.EARLY_TALKER


async def test_a_header_from_an_unlisted_peer_is_a_bad_command(start_mta: StartMta) -> None:
    mta = await _behind_proxy(start_mta)

    def run() -> tuple[str, str, str]:
        connection = Connection(mta.port, NOT_LISTED)
        try:
            greeting = connection.reply()
            v1 = connection.send(f"PROXY TCP4 {CLIENT} 192.0.2.25 40000 25")
            return greeting, v1, connection.deliver()
        finally:
            connection.close()

    def binary() -> bytes:
        connection = Connection(mta.port, NOT_LISTED)
        try:
            assert connection.reply().startswith("220 ")
            connection.sock.sendall(v2(CLIENT))
            return connection.file.read()  # to the server's close
        finally:
            connection.close()

    greeting, v1, reply = await asyncio.to_thread(run)
    assert greeting.startswith("220 ")
    assert v1 == '500 5.5.2 Error: command "PROXY" not recognized'
    header = _stored_header(mta, reply)
    assert f"[{NOT_LISTED}]" in header and CLIENT not in header, header
    # v2's signature holds a QUIT for servers that do not speak the protocol.
    assert (await asyncio.to_thread(binary)).endswith(b"221 2.0.0 Bye\r\n")


async def test_a_proxy_without_a_valid_header_is_closed(
    start_mta: StartMta, caplog: pytest.LogCaptureFixture
) -> None:
    mta = await _behind_proxy(start_mta)
    # What the proxy sends first, and why its connection is closed.
    cases = [
        (v2(CLIENT)[:20], "EOF inside the PROXY header"),  # truncated: the proxy went away
        (b"garbage that is no header\r\n", "unrecognized signature"),
        (b"EHLO client.test\r\n", "unrecognized signature"),
        (b"", "no complete PROXY header within 0.3 s"),  # slow: nothing at all
    ]

    def run(first: bytes) -> tuple[bytes, str]:
        connection = Connection(mta.port, PROXY, first)
        try:
            if first[:5] == SIGNATURE[:5]:
                connection.sock.shutdown(socket.SHUT_WR)
            unread = connection.sock.recv(100)  # no greeting: the close
        finally:
            connection.close()
        return unread, _talk(mta.port, PROXY, v2(CLIENT))[1]

    with caplog.at_level(logging.INFO, logger="mairust.smtp.session_limits"):
        for first, why in cases:
            unread, after = await asyncio.to_thread(run, first)
            assert unread == b"", why
            assert after.startswith("250 2.0.0"), (why, after)  # still serving
    closed = [r.getMessage() for r in caplog.records if "closed:" in r.getMessage()]
    assert len(closed) == len(cases), closed
    for message, (_, why) in zip(closed, cases, strict=True):
        assert PROXY in message and why in message, message
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
