"""SMTP smuggling (end-of-data tricks), over raw sockets from an untrusted loopback address.

A DATA body that carries a non-standard end-of-data sequence (``<LF>.<LF>``,
``<CR>.<CR>``, a NUL beside the dot, ...) followed by the commands of a second message must
stay ONE message: only ``<CRLF>.<CRLF>`` ends DATA (RFC 5321 §4.1.1.4). Bare CR and LF are
accepted inside a body and stored as sent (the decision is written in docs/security); the
smuggled envelope never becomes a message and its commands are never answered.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mairust.outbound.wire_format import dot_stuff

if TYPE_CHECKING:
    from tests.mairust.smtp.conftest import Mta, RawClientFactory, StartMta

DOMAIN = "example.test"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
SENDER = "sender@remote.test"
SMUGGLER = "ceo@bank.test"
UNTRUSTED = {"trusted_networks": ["127.0.0.1/32"]}

# Each ends DATA somewhere that is not RFC 5321's <CRLF>.<CRLF>, and what is stored in its
# place: bare CR and LF become CRLF (DESIGN invariant 6) and a dot that starts a CRLF line is
# unstuffed (RFC 5321 §4.5.2), so some bodies hold a line "." -- stuffed again on the way out.
SEQUENCES = {
    "LF.LF": (b"\n.\n", b"\r\n.\r\n"),
    "CR.CR": (b"\r.\r", b"\r\n.\r\n"),
    "LF.CRLF": (b"\n.\r\n", b"\r\n.\r\n"),
    "CRLF.LF": (b"\r\n.\n", b"\r\n\r\n"),
    "CR.CRLF": (b"\r.\r\n", b"\r\n.\r\n"),
    "CRLF.CR": (b"\r\n.\r", b"\r\n\r\n"),
    "CRLF.CR.LF": (b"\r\n.\r.\n", b"\r\n\r\n.\r\n"),
    "NUL.CRLF": (b"\r\n\x00.\r\n", b"\r\n\x00.\r\n"),
    "CRLF.NUL": (b"\r\n.\x00\r\n", b"\r\n\x00\r\n"),
    "CRLF.CR.NUL.LF": (b"\r\n.\r\x00\n", b"\r\n\r\n\x00\r\n"),
}
SMUGGLED = (
    f"MAIL FROM:<{SMUGGLER}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n"
    f"From: {SMUGGLER}\r\nSubject: smuggled\r\n\r\npay now"
).encode()


def _body(sequence: bytes, tail: bytes = b"\r\nafter bare\rCR and bare\nLF\r\n") -> bytes:
    """A message whose body hides ``sequence`` and a second transaction after it."""
    return (
        f"From: {SENDER}\r\nTo: {ALICE}\r\nSubject: real\r\n\r\nbefore".encode()
        + sequence
        + SMUGGLED
        + tail
    )


STORED_TAIL = b"\r\nafter bare\r\nCR and bare\r\nLF\r\n"


def _stored(mta: Mta) -> dict[str, tuple[list[str], bytes]]:
    ids = {item.message.id for item in mta.queued()}
    return {
        message_id: (mta.recipients_of(message_id), mta.body_of(message_id)) for message_id in ids
    }


async def test_a_non_standard_end_of_data_never_yields_a_second_message(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await start_mta(auth_settings=UNTRUSTED)

    def run() -> dict[str, list[str]]:
        replies: dict[str, list[str]] = {}
        for name, (sequence, _) in SEQUENCES.items():
            client = raw_client(mta.port, "127.0.0.2")
            client.send("EHLO client.test")
            replies[name] = client.dialog(
                [
                    f"MAIL FROM:<{SENDER}>",
                    f"RCPT TO:<{ALICE}>",
                    "DATA",
                    _body(sequence) + b".\r\n",
                    # Had the server ended DATA early, this would read the smuggled
                    # commands' replies instead of NOOP's.
                    "NOOP",
                ]
            )
            client.send("QUIT")
        return replies

    replies = await asyncio.to_thread(run)
    for name, (mail, rcpt, data, end, noop) in replies.items():
        assert (mail[:3], rcpt[:3], data[:3]) == ("250", "250", "354"), name
        assert end.startswith("250 2.0.0 Ok: queued as "), (name, end)
        assert noop == "250 2.0.0 OK", (name, noop)
    stored = _stored(mta)
    assert len(stored) == len(SEQUENCES)  # one message per session, none smuggled
    bodies = sorted(body for _, body in stored.values())
    for recipients, body in stored.values():
        assert recipients == [ALICE]
        assert body.count(SMUGGLED) == 1 and b"Subject: real\r\n" in body
    # Stored as sent but for line endings and unstuffing, after our trace header.
    start = f"From: {SENDER}".encode()
    assert sorted(body[body.index(start) :] for body in bodies) == sorted(
        _body(stored_as, STORED_TAIL) for _, stored_as in SEQUENCES.values()
    )
    for body in bodies:
        # Relayed on, the stuffed bytes end DATA at the next hop only at their end.
        assert dot_stuff(body).count(b"\r\n.\r\n") == 1
    assert all(item.recipient != BOB for item in mta.queued())
    assert mta.stores.metadata.list_outbound() == []
