"""The limits at the SMTP edge, over raw sockets from untrusted loopback addresses.

Each test runs a real front-end with ``trusted_networks`` narrowed to 127.0.0.1/32 and
talks to it from 127.0.0.2-127.0.0.15; it asserts the reply codes and that a refused
message left nothing in the spool (and that a good message after it in the same session
is stored).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from typing import TYPE_CHECKING, Any

from hypothesis import given, settings
from hypothesis.strategies import integers

from mairust.smtp import replies

if TYPE_CHECKING:
    from tests.mairust.smtp.conftest import Mta, RawClient, RawClientFactory, StartMta

DOMAIN = "example.test"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
PASSWORD = "correct horse battery"
SENDER = "sender@remote.test"
UNTRUSTED = {"trusted_networks": ["127.0.0.1/32"]}
GOOD = b"From: sender@remote.test\r\nSubject: fine\r\n\r\nhello\r\n.\r\n"
WELL_FORMED = re.compile(r"[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}( .*)?")


async def _mta(start_mta: StartMta, **smtp: Any) -> Mta:
    return await start_mta(auth_settings=UNTRUSTED, **smtp)


def _transaction(client: RawClient, message: bytes) -> str:
    """MAIL, RCPT, DATA and ``message`` (ending in CRLF.CRLF); the reply after it."""
    assert client.send(f"MAIL FROM:<{SENDER}>").startswith("250")
    assert client.send(f"RCPT TO:<{ALICE}>").startswith("250")
    assert client.send("DATA").startswith("354")
    return client.send(message)


def _good_message_is_stored(mta: Mta, client: RawClient, count: int = 1) -> None:
    """A good message now is stored, the ``count``-th of the test."""
    reply = _transaction(client, GOOD)
    assert reply.startswith("250 2.0.0 Ok: queued as "), reply
    assert len({item.message.id for item in mta.queued()}) == count


async def test_command_lines_over_512_octets_get_500(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await _mta(start_mta)

    def run() -> list[str]:
        client = raw_client(mta.port, "127.0.0.2")
        client.send("EHLO client.test")
        return [
            client.send("NOOP " + "x" * (512 - 7)),  # 512 octets with CRLF
            client.send("NOOP " + "x" * (512 - 6)),  # 513
            client.send("NOOP " + "x" * 100_000),  # past the stream reader's limit too
            client.send("NOOP"),
        ]

    at_limit, over, far_over, after = await _to_thread(run)
    assert at_limit == "250 2.0.0 OK"
    assert over == replies.COMMAND_LINE_TOO_LONG
    assert far_over == replies.COMMAND_LINE_TOO_LONG
    assert after == "250 2.0.0 OK"


async def test_line_limits_are_settings(start_mta: StartMta, raw_client: RawClientFactory) -> None:
    mta = await _mta(start_mta, max_command_line=1024, max_text_line=2000)

    def run() -> list[str]:
        client = raw_client(mta.port, "127.0.0.14")
        client.send("EHLO client.test")
        return [
            client.send("NOOP " + "x" * (1024 - 7)),
            client.send("NOOP " + "x" * (1024 - 6)),
            _transaction(client, b"Subject: x\r\n\r\n" + b"t" * 1998 + b"\r\n.\r\n"),
            _transaction(client, b"Subject: x\r\n\r\n" + b"t" * 2000 + b"\r\n.\r\n"),
        ]

    at_limit, over, text_at_limit, text_over = await _to_thread(run)
    assert at_limit == "250 2.0.0 OK"
    assert over == replies.COMMAND_LINE_TOO_LONG
    assert text_at_limit.startswith("250 2.0.0 Ok: queued as ")
    assert text_over == replies.TEXT_LINE_TOO_LONG
    assert len(mta.queued()) == 1


async def test_esmtp_parameters_extend_mail_and_rcpt_lines(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await _mta(start_mta)
    envid = "E" * 100
    orcpt = "rfc822;" + "o" * 493

    def run() -> list[str]:
        client = raw_client(mta.port, "127.0.0.3")
        client.send("EHLO client.test")
        # The longest path (RFC 5321 §4.5.3.1.3) with every MAIL parameter we advertise.
        domain = ".".join(["r" * 60] * 3) + ".test"
        mail = (
            f"MAIL FROM:<{'s' * 64}@{domain}> SIZE=1000 BODY=8BITMIME SMTPUTF8 "
            f"RET=HDRS ENVID={envid}"
        )
        rcpt = f"RCPT TO:<{ALICE}> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT={orcpt}"
        assert len(rcpt) + 2 > 512
        answers = [client.send(mail), client.send(rcpt), client.send(rcpt + "x" * 600)]
        # AUTH with its initial response may be 12288 octets (RFC 4954 §4): a long secret.
        answers.append(client.send(_auth_plain(ALICE, "p" * 8000)))
        answers.append(client.send(_auth_plain(ALICE, "p" * 9300)))
        return answers

    mail, rcpt, too_long, long_auth, too_long_auth = await _to_thread(run)
    assert mail == replies.SENDER_OK
    assert rcpt == replies.RECIPIENT_OK
    assert too_long == replies.COMMAND_LINE_TOO_LONG
    assert long_auth == replies.AUTH_INVALID
    assert too_long_auth == replies.COMMAND_LINE_TOO_LONG


async def test_overlong_auth_response_ends_the_exchange_cleanly(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await _mta(start_mta)

    def run() -> list[str]:
        client = raw_client(mta.port, "127.0.0.13")
        client.send("EHLO client.test")
        return [client.send("AUTH LOGIN"), client.send("A" * 13000), client.send("NOOP")]

    challenge, too_long, after = await _to_thread(run)
    assert challenge.startswith("334 ")
    assert too_long == replies.AUTH_LINE_TOO_LONG
    assert after == "250 2.0.0 OK"


async def test_repeated_ehlo_does_not_grow_the_mail_limit(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    """aiosmtpd's class-wide limits grew with every EHLO of every session."""
    mta = await _mta(start_mta, admission={"max_connections_per_ip": 100})

    def run() -> str:
        for _ in range(20):
            earlier = raw_client(mta.port, "127.0.0.4")
            earlier.send("EHLO client.test")
            earlier.close()
        client = raw_client(mta.port, "127.0.0.4")
        client.send("EHLO client.test")
        return client.send(f"MAIL FROM:<{SENDER}> " + "X" * 800)

    assert await _to_thread(run) == replies.COMMAND_LINE_TOO_LONG


async def test_text_line_over_the_limit_refuses_the_whole_message(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await _mta(start_mta)
    longest = b"a" * 999 + b"\r\n"  # 1001 octets: aiosmtpd counts a transparent dot's
    too_long = b"a" * 1000 + b"\r\n"

    def run() -> tuple[str, str]:
        client = raw_client(mta.port, "127.0.0.5")
        client.send("EHLO client.test")
        refused = _transaction(client, b"Subject: x\r\n\r\n" + too_long + b"more\r\n.\r\n")
        assert mta.queued() == []
        accepted = _transaction(client, b"Subject: x\r\n\r\n" + longest + b".\r\n")
        return refused, accepted

    refused, accepted = await _to_thread(run)
    assert refused == replies.TEXT_LINE_TOO_LONG
    assert accepted.startswith("250 2.0.0 Ok: queued as ")
    assert len(mta.queued()) == 1


async def test_endless_data_line_is_cut_off_past_the_size_limit(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await _mta(start_mta, max_message_size=64 * 1024)

    def run() -> tuple[str, bool]:
        client = raw_client(mta.port, "127.0.0.6")
        client.send("EHLO client.test")
        client.send(f"MAIL FROM:<{SENDER}>")
        client.send(f"RCPT TO:<{ALICE}>")
        client.send("DATA")
        chunk = b"x" * 65536
        try:
            for _ in range(64):  # 4 MiB without a line end, past the 1 MiB slack
                client.sock.sendall(chunk)
        except OSError:
            pass  # the server closed on us mid-send, as it should
        return client.reply(), _closed(client)

    reply, closed = await _to_thread(run)
    assert reply == replies.TOO_MUCH_MAIL_DATA
    assert closed
    assert mta.queued() == []


async def test_recipients_and_size_limits(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await _mta(start_mta, max_recipients=2, max_message_size=4096)

    def run() -> list[str]:
        client = raw_client(mta.port, "127.0.0.7")
        client.send("EHLO client.test")
        answers = [client.send(f"MAIL FROM:<{SENDER}> SIZE=4097")]
        client.send(f"MAIL FROM:<{SENDER}> SIZE=100")
        client.send(f"RCPT TO:<{ALICE}>")
        client.send(f"RCPT TO:<{BOB}>")
        answers.append(client.send(f"RCPT TO:<carol@{DOMAIN}>"))
        client.send("DATA")
        answers.append(client.send(b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 5 + b".\r\n"))
        assert mta.queued() == []
        _good_message_is_stored(mta, client)
        return answers

    declared, recipients, data = await _to_thread(run)
    assert declared == replies.DECLARED_SIZE_TOO_BIG
    assert recipients == replies.TOO_MANY_RECIPIENTS == "452 4.5.3 Too many recipients"
    assert data == replies.TOO_MUCH_MAIL_DATA


def _nested(depth: int) -> bytes:
    headers = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    return b"From: sender@remote.test\r\n" + headers + b"\r\nbomb\r\n.\r\n"


def _wide(parts: int) -> bytes:
    part = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return (
        b'From: sender@remote.test\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + part * parts
        + b"--b--\r\n.\r\n"
    )


BOMBS = {
    "deep": (_nested(2000), replies.MIME_TOO_DEEP),
    "wide": (_wide(10_000), replies.TOO_MANY_MIME_PARTS),
    "headers": (
        b"".join(b"X-H: %d\r\n" % i for i in range(1001)) + b"\r\nx\r\n.\r\n",
        replies.TOO_MANY_HEADER_FIELDS,
    ),
    "one-header": (
        b"Subject: x\r\n" + b" folded\r\n" * 9000 + b"\r\nx\r\n.\r\n",
        replies.HEADER_FIELD_TOO_BIG,
    ),
}


async def test_header_and_mime_bombs_are_refused_fast_and_not_stored(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    """Each bomb in turn on one session, each followed by a good message that is stored."""
    mta = await _mta(start_mta)

    def run() -> dict[str, tuple[str, float]]:
        client = raw_client(mta.port, "127.0.0.8")
        client.send("EHLO client.test")
        answers = {}
        for stored, (name, (message, _)) in enumerate(BOMBS.items()):
            client.send(f"MAIL FROM:<{SENDER}>")
            client.send(f"RCPT TO:<{ALICE}>")
            client.send("DATA")
            client.sock.sendall(message[:-3])
            sent = time.monotonic()
            reply = client.send(b".\r\n")
            answers[name] = reply, time.monotonic() - sent
            assert len(mta.queued()) == stored, name  # nothing of the bomb
            _good_message_is_stored(mta, client, stored + 1)
        return answers

    answers = await _to_thread(run)
    assert {name: reply for name, (reply, _) in answers.items()} == {
        name: expected for name, (_, expected) in BOMBS.items()
    }
    assert all(waited < 2.0 for _, waited in answers.values()), answers


async def test_auth_failures_per_connection_tarpit_then_421(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await _mta(start_mta, max_auth_failures=2, auth_failure_delay=0.3)

    def run() -> tuple[str, str, float, bool]:
        client = raw_client(mta.port, "127.0.0.9")
        client.send("EHLO client.test")
        first = client.send(_auth_plain(ALICE, "wrong"))
        started = time.monotonic()
        second = client.send(_auth_plain(ALICE, "wrong again"))
        return first, second, time.monotonic() - started, _closed(client)

    first, second, waited, closed = await _to_thread(run)
    assert first == replies.AUTH_INVALID
    assert second == replies.TOO_MANY_AUTH_FAILURES
    assert waited >= 0.3
    assert closed


async def test_auth_failures_per_client_address_within_a_window(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    now = [1000.0]
    mta = await _mta(
        start_mta,
        clock=lambda: now[0],
        max_auth_failures=10,
        max_auth_failures_per_ip=3,
        auth_failure_window=60.0,
        auth_failure_delay=0.0,
    )

    def attempt(source: str, password: str) -> str:
        client = raw_client(mta.port, source)
        client.send("EHLO client.test")
        return client.send(_auth_plain(ALICE, password))

    def run() -> list[str]:
        answers = [attempt("127.0.0.10", "wrong") for _ in range(3)]
        answers.append(attempt("127.0.0.10", PASSWORD))  # right, but not even checked
        answers.append(attempt("127.0.0.11", PASSWORD))  # another address is not held
        now[0] += 61.0
        answers.append(attempt("127.0.0.10", PASSWORD))  # the window has passed
        return answers

    answers = await _to_thread(run)
    assert answers == [
        replies.AUTH_INVALID,
        replies.AUTH_INVALID,
        replies.TOO_MANY_AUTH_FAILURES,
        replies.TOO_MANY_AUTH_FAILURES,
        replies.AUTH_SUCCEEDED,
        replies.AUTH_SUCCEEDED,
    ]


async def test_any_line_length_around_the_limits_gets_a_well_formed_reply(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await _mta(start_mta)

    @settings(max_examples=60, deadline=None)
    @given(command=integers(400, 1600), text=integers(990, 1100))
    def session(command: int, text: int) -> None:
        client = raw_client(mta.port, "127.0.0.12")
        client.send("EHLO client.test")
        noop = client.send("NOOP " + "x" * (command - 7))
        assert WELL_FORMED.fullmatch(noop), noop
        assert noop.startswith("500 5.5.2" if command > 512 else "250 2.0.0"), (command, noop)
        reply = _transaction(client, b"Subject: x\r\n\r\n" + b"t" * (text - 2) + b"\r\n.\r\n")
        assert WELL_FORMED.fullmatch(reply.split("\r\n")[-1]), reply
        assert reply.startswith("250 " if text <= 1001 else "500 5.5.2"), (text, reply)
        assert client.send("QUIT").startswith("221")
        client.close()

    await _to_thread(session)


def _closed(client: RawClient) -> bool:
    """Whether the server closed the connection (after its last reply)."""
    try:
        return client.file.read() == b""
    except ConnectionResetError:  # closed with our unread bytes still in its buffer
        return True


def _auth_plain(login: str, password: str) -> str:
    token = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
    return f"AUTH PLAIN {token}"


async def _to_thread(function: Any) -> Any:
    return await asyncio.to_thread(function)
