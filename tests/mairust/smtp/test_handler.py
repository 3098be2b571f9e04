"""InboundHandler over a real loopback server: what MAIL, RCPT and DATA answer and store."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import smtplib
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from mairust.auth.checker import AuthChecker, SenderCheck
from mairust.auth.policy import AuthPolicy
from mairust.auth.results import AuthResults
from mairust.auth.service import ThreadedAuthService
from mairust.config import AuthSettings
from mairust.errors import CheckUnavailable, StorageUnavailable
from mairust.model.directory import Domain, Mailbox
from mairust.model.dkim_keys import DkimAlgorithm
from mairust.model.message import BlobInfo, SpoolRecord
from mairust.model.scope import PLATFORM
from mairust.model.suppression import Suppression, SuppressionReason
from mairust.outbound.dkim_signer import DkimSigner, SigningKey, private_key_pem
from mairust.outbound.signing import Cache
from mairust.smtp.deciders import InboundAuth
from mairust.smtp.event_records import header_message_id
from mairust.smtp.trace import normalize_line_endings, received_header
from mairust.storage.stores import Stores
from tests.support import stored_entries
from tests.support.dict_resolver import DictResolver

if TYPE_CHECKING:
    # Fixture types; conftest is not importable at run time (importlib mode).
    from tests.mairust.smtp.conftest import Mta, RawClientFactory, StartMta


DOMAIN = "example.test"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
PASSWORD = "correct horse battery"
SENDER = "sender@remote.test"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
QUEUED = re.compile(r"2\.0\.0 Ok: queued as ([0-9A-Z]{26})")


def simple_message(body: str = "Hello there.") -> bytes:
    return (f"From: {SENDER}\r\nTo: {ALICE}\r\nSubject: test\r\n\r\n{body}\r\n").encode()


def deliver(
    port: int,
    rcpts: Sequence[str],
    message: bytes,
    sender: str = SENDER,
    options: Sequence[str] = (),
) -> tuple[int, str]:
    """One transaction with smtplib; returns the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=60) as client:
        client.ehlo()
        code, text = client.mail(sender, list(options))
        assert code == 250, text
        for rcpt in rcpts:
            code, text = client.rcpt(rcpt)
            assert code == 250, text
        code, reply = client.data(message)
        return code, reply.decode()


def queued_id(reply: str) -> str:
    match = QUEUED.fullmatch(reply)
    assert match, reply
    return match.group(1)


def trace_and_body(stored: bytes) -> tuple[bytes, bytes]:
    """Split what was stored into our Received: header and the message as sent."""
    assert stored.startswith(b"Received: ")
    end = stored.index(b"\r\n") + 2
    while stored[end : end + 1] == b"\t":  # folded continuation lines
        end = stored.index(b"\r\n", end) + 2
    return stored[:end], stored[end:]


async def test_plain_delivery_is_stored_with_a_trace_header(mta: Mta) -> None:
    message = simple_message()
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], message)

    assert code == 250
    message_id = queued_id(reply)
    assert mta.recipients_of(message_id) == [ALICE]
    trace, body = trace_and_body(mta.body_of(message_id))
    assert body == message
    assert trace.startswith(
        b"Received: from client.test ([127.0.0.1])\r\n"
        b"\tby mx.example.test (MaiRust) with ESMTP id " + message_id.encode() + b"\r\n"
        b"\tfor <alice@example.test>; "
    )
    date = trace.decode().rsplit("; ", 1)[1].strip()
    assert abs(datetime.now(UTC) - _parse_date(date)).total_seconds() < 60
    ref = mta.ref_of(message_id)
    assert ref.size == len(trace + body)
    assert ref.sha256 == hashlib.sha256(trace + body).hexdigest()


def _parse_date(text: str) -> datetime:
    import email.utils

    return email.utils.parsedate_to_datetime(text)


async def test_multi_recipient_message_is_stored_once_for_each_recipient(mta: Mta) -> None:
    _, reply = await asyncio.to_thread(deliver, mta.port, [ALICE, BOB], simple_message())

    message_id = queued_id(reply)
    assert mta.recipients_of(message_id) == [ALICE, BOB]
    assert len(mta.blob_files()) == 1
    trace, _ = trace_and_body(mta.body_of(message_id))
    assert b"\tfor <" not in trace  # several recipients are never named (Bcc)


async def test_recipient_given_twice_is_queued_once(mta: Mta, raw_client: RawClientFactory) -> None:
    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            [
                "EHLO client.test",
                f"MAIL FROM:<{SENDER}>",
                f"RCPT TO:<{ALICE}>",
                f"RCPT TO:<{ALICE.upper()}>",
                "DATA",
                simple_message() + b".\r\n",
            ]
        )

    replies = await asyncio.to_thread(run)
    assert replies[3] == "250 2.1.5 Recipient ok"
    assert mta.recipients_of(queued_id(replies[5][4:])) == [ALICE]


async def test_eight_bit_body_is_stored_byte_for_byte(mta: Mta) -> None:
    message = "Subject: Grüße\r\n\r\nÄrger über Öl, ☃\r\n".encode()
    code, reply = await asyncio.to_thread(
        deliver, mta.port, [ALICE], message, SENDER, ["BODY=8BITMIME"]
    )

    assert code == 250
    _, body = trace_and_body(mta.body_of(queued_id(reply)))
    assert body == message


async def test_smtputf8_addresses_are_accepted_and_normalised(mta: Mta) -> None:
    message = "Subject: olá\r\n\r\nçava\r\n".encode()
    code, reply = await asyncio.to_thread(
        deliver, mta.port, ["José@Example.test"], message, "ñandú@remote.test", ["SMTPUTF8"]
    )

    assert code == 250, reply
    message_id = queued_id(reply)
    assert mta.recipients_of(message_id) == ["josé@example.test"]
    trace, body = trace_and_body(mta.body_of(message_id))
    assert b" with UTF8SMTP id " in trace
    assert "for <josé@example.test>".encode() in trace
    assert body == message


async def test_non_ascii_address_without_smtputf8_is_refused(
    mta: Mta, raw_client: RawClientFactory
) -> None:
    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            ["EHLO client.test", f"MAIL FROM:<{SENDER}>", "RCPT TO:<josé@example.test>"]
        )

    replies = await asyncio.to_thread(run)
    assert replies[2] == "553 5.6.7 Non-ASCII address requires SMTPUTF8"


async def test_bare_line_feeds_and_carriage_returns_become_crlf(
    mta: Mta, raw_client: RawClientFactory
) -> None:
    sent = b"Subject: bare\nX-Test: 1\n\nline one\nline two\rline three\r\nend\r\n"

    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            [
                "EHLO client.test",
                f"MAIL FROM:<{SENDER}>",
                f"RCPT TO:<{ALICE}>",
                "DATA",
                sent + b".\r\n",
            ]
        )

    replies = await asyncio.to_thread(run)
    _, body = trace_and_body(mta.body_of(queued_id(replies[4][4:])))
    assert body == (
        b"Subject: bare\r\nX-Test: 1\r\n\r\nline one\r\nline two\r\nline three\r\nend\r\n"
    )


async def test_ten_mebibyte_message_is_accepted_intact(mta: Mta) -> None:
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
    body = line * (10 * 1024 * 1024 // len(line) + 1)
    message = b"Subject: big\r\n\r\n" + body
    assert len(message) > 10 * 1024 * 1024

    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], message)

    assert code == 250
    _, stored = trace_and_body(mta.body_of(queued_id(reply)))
    assert hashlib.sha256(stored).digest() == hashlib.sha256(message).digest()


async def test_unknown_local_user_is_refused_and_recorded(
    mta: Mta, raw_client: RawClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mairust.events")

    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            ["EHLO client.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<nobody@{DOMAIN}>", "DATA"]
        )

    replies = await asyncio.to_thread(run)
    assert replies[2].startswith("550 5.1.1 ")
    assert replies[3].startswith("503 5.5.1 ")  # no valid recipient, no DATA
    assert mta.queued() == []
    rejections = [r for r in caplog.records if getattr(r, "record_type", "") == "Rejection"]
    assert [r.fields["recipient"] for r in rejections] == [f"nobody@{DOMAIN}"]  # type: ignore[attr-defined]


async def test_an_alias_and_a_catchall_are_accepted_at_rcpt(
    mta: Mta, stores: Stores, raw_client: RawClientFactory
) -> None:
    alice = stores.metadata.find_mailbox(ALICE)
    assert alice is not None
    stores.metadata.add_alias(f"team@{DOMAIN}", alice.tenant_id, [alice.id])

    def rcpts(*addresses: str) -> list[str]:
        client = raw_client(mta.port)
        commands = [f"RCPT TO:<{address}>" for address in addresses]
        return client.dialog(["EHLO client.test", f"MAIL FROM:<{SENDER}>", *commands])[2:]

    first = await asyncio.to_thread(rcpts, f"team@{DOMAIN}", f"stray@{DOMAIN}")
    assert first[0].startswith("250 ") and first[1].startswith("550 5.1.1 ")
    stores.metadata.set_catchall(DOMAIN, alice.tenant_id, alice.id)
    # A refusal is never cached: the catch-all takes the address at once.
    second = await asyncio.to_thread(rcpts, f"stray@{DOMAIN}")
    assert second[0].startswith("250 ")


async def test_relay_attempt_is_denied(mta: Mta, raw_client: RawClientFactory) -> None:
    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            ["EHLO client.test", f"MAIL FROM:<{SENDER}>", "RCPT TO:<victim@elsewhere.test>"]
        )

    replies = await asyncio.to_thread(run)
    assert replies[2] == "554 5.7.1 Relay access denied"
    assert mta.queued() == []


async def test_authenticated_relay_queues_remote_recipients_for_outbound_delivery(
    mta: Mta,
) -> None:
    """A submitter's remote recipients get an outbound row each (with NOTIFY, ORCPT, RET
    and ENVID kept for their DSNs), its local ones a local queue row: one message."""

    def run() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login(ALICE, PASSWORD)
            client.mail(ALICE, ["RET=HDRS", "ENVID=env-1"])
            assert client.rcpt("friend@elsewhere.test", ["NOTIFY=FAILURE,DELAY"])[0] == 250
            assert client.rcpt("other@far.test", ["ORCPT=rfc822;x@far.test"])[0] == 250
            assert client.rcpt(BOB)[0] == 250
            return client.data(simple_message())

    code, text = await asyncio.to_thread(run)
    assert code == 250
    message_id = queued_id(text.decode())
    assert mta.recipients_of(message_id) == [BOB]
    remote = mta.stores.metadata.list_outbound(message_id=message_id)
    by_address = {item.recipient: item for item in remote}
    assert sorted(by_address) == ["friend@elsewhere.test", "other@far.test"]
    friend = by_address["friend@elsewhere.test"]
    assert (friend.state.value, friend.destination, friend.mail_from) == (
        "scheduled",
        "elsewhere.test",
        ALICE,
    )
    assert friend.notify == ("FAILURE", "DELAY")
    assert (friend.ret, friend.envid) == ("HDRS", "env-1")
    assert friend.tenant_id is not None
    assert by_address["other@far.test"].orcpt == "rfc822;x@far.test"


async def test_a_submission_without_a_message_id_is_traced_by_the_one_it_was_given(
    mta: Mta,
) -> None:
    """RFC 6409 §8 gives a submission its missing Message-ID; its Reception events carry
    that one, so a trace by the Message-ID the recipient sees finds the message."""

    def run() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login(ALICE, PASSWORD)
            client.mail(ALICE)
            assert client.rcpt("friend@elsewhere.test")[0] == 250
            return client.data(b"Subject: no id\r\n\r\nhello\r\n")

    code, text = await asyncio.to_thread(run)
    assert code == 250
    message_id = queued_id(text.decode())
    [item] = mta.stores.metadata.list_outbound(message_id=message_id)
    given = header_message_id(mta.stores.blobs.get(item.message.blob_key))
    assert given is not None
    traced = mta.stores.metadata.trace_events(PLATFORM, header_message_id=given)
    assert [(e.kind.value, e.message_id, e.recipient) for e in traced] == [
        ("Reception", message_id, "friend@elsewhere.test")
    ]


async def test_submitted_mail_is_dkim_signed_before_the_spool_commit(
    start_mta: StartMta,
) -> None:
    key = SigningKey(DOMAIN, "s1", DkimAlgorithm.ED25519, private_key_pem(DkimAlgorithm.ED25519))
    signer = DkimSigner((key,))
    mta = await start_mta(signer_for=lambda domain: signer if domain == DOMAIN else None)

    def submit() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login(ALICE, PASSWORD)
            client.mail(ALICE)
            client.rcpt("friend@elsewhere.test")
            return client.data(simple_message().replace(SENDER.encode(), ALICE.encode()))

    code, reply = await asyncio.to_thread(submit)
    assert code == 250
    [row] = mta.stores.metadata.list_outbound(message_id=queued_id(reply.decode()))
    stored = mta.stores.blobs.get(row.message.blob_key)
    assert stored.startswith(b"DKIM-Signature: v=1; a=ed25519-sha256;")
    assert f"d={DOMAIN};".encode() in stored and b"s=s1;" in stored
    # Mail from outside (no AUTH) is not ours to sign.
    _, inbound = await asyncio.to_thread(deliver, mta.port, [ALICE], simple_message())
    assert b"DKIM-Signature" not in mta.body_of(queued_id(inbound))


async def test_a_cached_signer_signs_on_the_loop_and_a_miss_goes_to_the_blocking_lookup(
    start_mta: StartMta,
) -> None:
    key = SigningKey(DOMAIN, "s2", DkimAlgorithm.ED25519, private_key_pem(DkimAlgorithm.ED25519))
    signer = DkimSigner((key,))
    cache: dict[str, DkimSigner | None] = {}
    blocking_lookups: list[str] = []

    def signer_for(domain: str) -> DkimSigner | None:
        blocking_lookups.append(domain)
        cache[domain] = signer if domain == DOMAIN else None
        return cache[domain]

    mta = await start_mta(
        signer_for=signer_for, cached_signer_for=lambda domain: cache.get(domain, Cache.MISS)
    )

    def submit() -> bytes:
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login(ALICE, PASSWORD)
            client.mail(ALICE)
            client.rcpt("friend@elsewhere.test")
            code, reply = client.data(simple_message().replace(SENDER.encode(), ALICE.encode()))
            assert code == 250
            return reply

    for _ in range(3):
        reply = await asyncio.to_thread(submit)
        [row] = mta.stores.metadata.list_outbound(message_id=queued_id(reply.decode()))
        stored = mta.stores.blobs.get(row.message.blob_key)
        assert stored.startswith(b"DKIM-Signature:") and b"s=s2;" in stored
    assert blocking_lookups == [DOMAIN]  # the first message missed the cache; then hits


async def test_a_suppressed_remote_recipient_is_refused_with_its_reason(mta: Mta) -> None:
    alice = mta.stores.metadata.find_mailbox(ALICE)
    assert alice is not None
    mta.stores.metadata.add_suppressions(
        [Suppression(alice.tenant_id, "gone@elsewhere.test", SuppressionReason.HARD_BOUNCE, NOW)]
    )

    def run() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login(ALICE, PASSWORD)
            client.mail(ALICE)
            return client.rcpt("Gone@Elsewhere.test"), client.rcpt("fine@elsewhere.test")

    (code, text), (ok, _) = await asyncio.to_thread(run)
    assert (code, ok) == (550, 250)
    assert text.decode() == "5.7.1 Recipient is on this account's suppression list (hard_bounce)"


async def test_unauthenticated_remote_recipient_is_refused_and_queues_nothing(
    mta: Mta, raw_client: RawClientFactory
) -> None:
    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            ["EHLO client.test", f"MAIL FROM:<{SENDER}>", "RCPT TO:<victim@far.test>"]
        )

    replies = await asyncio.to_thread(run)
    assert replies[2] == "554 5.7.1 Relay access denied"
    assert mta.stores.metadata.list_outbound() == []


async def test_declared_size_over_the_limit_is_refused(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await start_mta(max_message_size=64 * 1024)

    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(["EHLO client.test", f"MAIL FROM:<{SENDER}> SIZE=65537"])

    replies = await asyncio.to_thread(run)
    assert replies[1].startswith("552 5.3.4 ")


async def test_data_over_the_limit_is_refused_and_nothing_stored(start_mta: StartMta) -> None:
    mta = await start_mta(max_message_size=64 * 1024)
    message = b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n"
    message *= 1000

    def run() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as client:
            client.ehlo("client.test")
            client.mail(SENDER)
            client.rcpt(ALICE)
            return client.data(message)

    code, text = await asyncio.to_thread(run)
    assert code == 552
    assert text.decode().startswith("5.3.4 ")
    assert mta.queued() == []
    assert mta.blob_files() == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("MAIL FROM:<not-an-address>", "553 5.1.3 "),
        ("MAIL FROM:<user@>", "553 5.1.3 "),
        ('MAIL FROM:<"two words"@remote.test>', "553 5.1.3 "),
        ("MAIL FROM:", "501 5.5.4 "),
        ("MAIL FROM:<" + "a" * 250 + "@remote.test>", "501 5.5.4 "),
    ],
)
async def test_malformed_sender_is_refused(
    mta: Mta, raw_client: RawClientFactory, command: str, expected: str
) -> None:
    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(["EHLO client.test", command, f"RCPT TO:<{ALICE}>"])

    replies = await asyncio.to_thread(run)
    assert replies[1].startswith(expected), replies[1]
    assert replies[2].startswith("503 5.5.1 ")  # the refused MAIL opened no transaction


async def test_malformed_recipient_is_refused(mta: Mta, raw_client: RawClientFactory) -> None:
    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(["EHLO client.test", f"MAIL FROM:<{SENDER}>", "RCPT TO:<alice>"])

    replies = await asyncio.to_thread(run)
    assert replies[2] == "553 5.1.3 Malformed recipient address"


async def test_null_sender_is_accepted(mta: Mta, raw_client: RawClientFactory) -> None:
    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            [
                "EHLO client.test",
                "MAIL FROM:<>",
                f"RCPT TO:<{ALICE}>",
                "DATA",
                simple_message() + b".\r\n",
            ]
        )

    replies = await asyncio.to_thread(run)
    assert replies[1] == "250 2.1.0 Sender ok"
    assert mta.recipients_of(queued_id(replies[4][4:])) == [ALICE]


async def test_hundred_recipients_pass_and_the_next_is_deferred(
    mta: Mta, raw_client: RawClientFactory
) -> None:
    users = [f"user{n:03d}@{DOMAIN}" for n in range(101)]
    for user in users:
        mta.stores.metadata.add_mailbox(user)

    def run() -> list[str]:
        client = raw_client(mta.port)
        commands: list[bytes | str] = ["EHLO client.test", f"MAIL FROM:<{SENDER}>"]
        commands += [f"RCPT TO:<{user}>" for user in users]
        commands += ["DATA", simple_message() + b".\r\n"]
        return client.dialog(commands)

    replies = await asyncio.to_thread(run)
    rcpt_replies = replies[2:103]
    assert rcpt_replies[:100] == ["250 2.1.5 Recipient ok"] * 100
    assert rcpt_replies[100] == "452 4.5.3 Too many recipients"
    assert mta.recipients_of(queued_id(replies[-1][4:])) == sorted(users[:100])


@pytest.mark.parametrize("data", [b".\r\n", b"\r\n.\r\n", b" \r\n\r\n.\r\n"])
async def test_empty_message_is_refused_and_nothing_stored(
    mta: Mta, raw_client: RawClientFactory, data: bytes
) -> None:
    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            ["EHLO client.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{ALICE}>", "DATA", data]
        )

    replies = await asyncio.to_thread(run)
    assert replies[4] == "554 5.6.0 Message has no content"
    assert mta.queued() == []
    assert mta.blob_files() == []


class FailingMetadata:
    """The real store for everything, except that commits fail."""

    def __init__(self, real: object) -> None:
        self._real = real

    def commit_messages(self, records: Sequence[SpoolRecord]) -> None:
        raise StorageUnavailable("database is gone (on purpose)")

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


class FailingBlobs:
    def __init__(self, real: object) -> None:
        self._real = real

    def put(self, data: bytes) -> BlobInfo:
        raise StorageUnavailable("disk is gone (on purpose)")

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


async def test_metadata_commit_failure_answers_451(start_mta: StartMta, stores: Stores) -> None:
    mta = await start_mta(metadata=FailingMetadata(stores.metadata))

    def run() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as client:
            client.ehlo("client.test")
            client.mail(SENDER)
            client.rcpt(ALICE)
            return client.data(simple_message())

    code, text = await asyncio.to_thread(run)
    assert (code, text.decode()[:6]) == (451, "4.3.0 ")
    assert mta.queued() == []


async def test_blob_failure_answers_451(start_mta: StartMta, stores: Stores) -> None:
    mta = await start_mta(blobs=FailingBlobs(stores.blobs))

    code, text = await asyncio.to_thread(_deliver_expecting_failure, mta.port)
    assert (code, text[:6]) == (451, "4.3.0 ")
    assert mta.queued() == []
    assert mta.blob_files() == []


def _deliver_expecting_failure(port: int) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        client.mail(SENDER)
        client.rcpt(ALICE)
        code, text = client.data(simple_message())
        return code, text.decode()


class BrokenDirectory:
    def __init__(self, error: Exception) -> None:
        self._error = error

    def get_domain(self, name: str) -> Domain | None:
        raise self._error

    def find_mailbox(self, address: str) -> Mailbox | None:
        raise self._error


@pytest.mark.parametrize(
    "error",
    [
        StorageUnavailable("directory down"),
        sqlite3.OperationalError("database is locked"),
        RuntimeError("secret internals"),
    ],
)
async def test_failing_directory_lookup_answers_451(
    start_mta: StartMta, raw_client: RawClientFactory, error: Exception
) -> None:
    mta = await start_mta(directory=BrokenDirectory(error))

    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            ["EHLO client.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{ALICE}>", "NOOP"]
        )

    replies = await asyncio.to_thread(run)
    assert replies[2].startswith("451 4.3.0 ")
    assert "secret" not in replies[2] and "Error" not in replies[2]
    assert replies[3] == "250 2.0.0 OK"  # the session carries on


def test_normalize_line_endings_leaves_clean_input_alone() -> None:
    clean = b"a\r\nb\r\n"
    assert normalize_line_endings(clean) is clean
    assert normalize_line_endings(b"a\nb\r\rc\r\n\n") == b"a\r\nb\r\n\r\nc\r\n\r\n"


def test_received_header_for_ipv6_and_odd_helo() -> None:
    header = received_header(
        helo="bad (helo)\x00",
        client_ip="::1",
        hostname="mx.example.test",
        protocol="ESMTPSA",
        message_id="01ABC",
        recipients=("a@example.test", "b@example.test"),
        received_at=datetime(2025, 3, 3, 10, 0, tzinfo=UTC),
    )
    assert header == (
        b"Received: from bad??helo?? ([IPv6:::1])\r\n"
        b"\tby mx.example.test (MaiRust) with ESMTPSA id 01ABC;\r\n"
        b"\tMon, 03 Mar 2025 10:00:00 +0000\r\n"
    )


# -- authentication at the SMTP edge (checks injected; policy real) -------------------

AUTHSERV = "mx.example.test"
SPF_ZONE = {"remote.test": {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]}}


def checking_auth(settings: AuthSettings, records=SPF_ZONE) -> InboundAuth:
    service = ThreadedAuthService(AuthChecker(DictResolver(records)))
    return InboundAuth(service=service, policy=AuthPolicy(settings), authserv_id=AUTHSERV)


class BrokenService:
    async def check_sender(self, client_ip: str, helo: str, mail_from: str) -> SenderCheck:
        raise CheckUnavailable("checker pool is gone")

    async def check_message(self, message: bytes, sender: SenderCheck) -> AuthResults:
        raise CheckUnavailable("checker pool is gone")


async def test_spf_fail_is_refused_at_rcpt_when_enforced(start_mta, raw_client):
    settings = AuthSettings(trusted_networks=[], spf="enforce")
    mta = await start_mta(auth=checking_auth(settings))

    def dialog():
        client = raw_client(mta.port)
        return client.dialog(["EHLO c.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{ALICE}>"])

    replies_seen = await asyncio.to_thread(dialog)
    assert replies_seen[1].startswith("250 2.1.0")
    assert replies_seen[2].startswith("550 5.7.23")
    assert mta.queued() == []


async def test_recorded_results_are_stamped_and_stored(start_mta):
    mta = await start_mta(auth=checking_auth(AuthSettings(trusted_networks=[])))
    forged = f"Authentication-Results: {AUTHSERV}; spf=pass\r\n".encode()
    message = forged + b"From: x@remote.test\r\nSubject: recorded\r\n\r\nbody\r\n"
    reply = await asyncio.to_thread(deliver, mta.port, [ALICE], message)
    assert reply[0] == 250, reply
    [item] = mta.queued()
    stored = mta.body_of(item.message.id)
    assert stored.count(b"Authentication-Results:") == 1
    assert b"spf=fail" in stored and b"smtp.mailfrom=remote.test" in stored


async def test_trusted_clients_are_not_checked_but_forgeries_are_stripped(start_mta):
    mta = await start_mta(auth=checking_auth(AuthSettings(spf="enforce")))  # 127/8 trusted
    forged = f"Authentication-Results: {AUTHSERV}; dmarc=pass\r\n".encode()
    other = b"Authentication-Results: other.example; dmarc=pass\r\n"
    message = forged + other + b"Subject: trusted\r\n\r\nbody\r\n"
    reply = await asyncio.to_thread(deliver, mta.port, [ALICE], message)
    assert reply[0] == 250, reply  # SPF would fail, but 127.0.0.1 is trusted
    stored = mta.body_of(mta.queued()[0].message.id)
    assert f"{AUTHSERV}; dmarc=pass".encode() not in stored
    assert b"other.example; dmarc=pass" in stored


async def test_checker_outage_is_a_temporary_failure(start_mta, raw_client):
    auth = InboundAuth(BrokenService(), AuthPolicy(AuthSettings(trusted_networks=[])), AUTHSERV)
    mta = await start_mta(auth=auth)

    def dialog():
        commands = ["EHLO c.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{ALICE}>"]
        return raw_client(mta.port).dialog(commands)

    replies_seen = await asyncio.to_thread(dialog)
    assert replies_seen[1].startswith("451 4.3.0")
    assert replies_seen[2].startswith("503 5.5.1")  # a failed MAIL leaves no sender
    assert mta.queued() == []


class RaisingService(BrokenService):
    async def check_sender(self, client_ip: str, helo: str, mail_from: str) -> SenderCheck:
        raise ValueError("a bug in the checks")


async def test_a_bug_in_the_checks_is_a_temporary_failure_too(start_mta, raw_client, caplog):
    auth = InboundAuth(RaisingService(), AuthPolicy(AuthSettings(trusted_networks=[])), AUTHSERV)
    mta = await start_mta(auth=auth)

    def dialog():
        commands = ["EHLO c.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{ALICE}>"]
        return raw_client(mta.port).dialog(commands)

    with caplog.at_level(logging.ERROR):
        replies_seen = await asyncio.to_thread(dialog)
    assert replies_seen[1].startswith("451 4.3.0")
    assert "a bug in the checks" not in replies_seen[1]  # never our exception text
    assert replies_seen[2].startswith("503 5.5.1")
    assert any("a bug in the checks" in r.getMessage() for r in caplog.records)


# -- quotas --------------------------------------------------------------------------


def _fill(stores: Stores, address: str, size: int) -> None:
    """Store a message of ``size`` bytes in the mailbox, as the pipeline would."""
    mailbox = stores.metadata.find_mailbox(address)
    assert mailbox is not None
    stored_entries.deliver(stores.metadata, mailbox, size=size)


def _quota(stores: Stores, address: str, quota_bytes: int | None) -> None:
    mailbox = stores.metadata.find_mailbox(address)
    assert mailbox is not None
    stores.metadata.set_mailbox_quota(PLATFORM, mailbox.id, quota_bytes)


async def test_a_full_mailbox_is_refused_at_rcpt_and_the_others_still_get_the_message(
    mta: Mta, raw_client: RawClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mairust.events")
    _fill(mta.stores, ALICE, 100)
    _quota(mta.stores, ALICE, 100)

    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            [
                "EHLO client.test",
                f"MAIL FROM:<{SENDER}>",
                f"RCPT TO:<{ALICE}>",
                f"RCPT TO:<{BOB}>",
                "DATA",
                simple_message() + b".\r\n",
            ]
        )

    replies = await asyncio.to_thread(run)
    assert replies[2] == "452 4.2.2 Mailbox full"
    assert replies[3] == "250 2.1.5 Recipient ok"
    assert mta.recipients_of(queued_id(replies[-1][4:])) == [BOB]
    rejections = [r for r in caplog.records if getattr(r, "record_type", "") == "Rejection"]
    assert [r.fields["recipient"] for r in rejections] == [ALICE]  # type: ignore[attr-defined]


async def test_a_mailbox_with_room_takes_a_message_that_crosses_its_quota(mta: Mta) -> None:
    # The quota is checked before the 250, never after: what is accepted is delivered.
    _fill(mta.stores, ALICE, 100)
    _quota(mta.stores, ALICE, 150)
    code, reply = await asyncio.to_thread(
        deliver, mta.port, [ALICE], simple_message(("x" * 70 + "\r\n") * 100)
    )
    assert code == 250
    assert mta.recipients_of(queued_id(reply)) == [ALICE]


async def test_the_default_quota_applies_to_mailboxes_without_their_own(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    mta = await start_mta(mailbox={"default_quota_bytes": 100}, recipient_cache_seconds=0)
    _fill(mta.stores, ALICE, 100)
    _fill(mta.stores, BOB, 99)

    def rcpt(address: str) -> str:
        client = raw_client(mta.port)
        return client.dialog(["EHLO client.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{address}>"])[
            -1
        ]

    assert await asyncio.to_thread(rcpt, ALICE) == "452 4.2.2 Mailbox full"
    assert await asyncio.to_thread(rcpt, BOB) == "250 2.1.5 Recipient ok"
    _quota(mta.stores, ALICE, 0)  # her own quota: unlimited
    assert await asyncio.to_thread(rcpt, ALICE) == "250 2.1.5 Recipient ok"


async def test_an_alias_with_a_full_target_is_refused_at_rcpt(
    start_mta: StartMta, raw_client: RawClientFactory
) -> None:
    # The alias's routes carry each target's usage, as a mailbox's route does.
    mta = await start_mta(recipient_cache_seconds=0)
    alice = mta.stores.metadata.find_mailbox(ALICE)
    bob = mta.stores.metadata.find_mailbox(BOB)
    assert alice is not None and bob is not None
    team = "team@" + ALICE.rpartition("@")[2]
    mta.stores.metadata.add_alias(team, alice.tenant_id, [alice.id, bob.id])
    _fill(mta.stores, ALICE, 100)
    _quota(mta.stores, ALICE, 100)

    def rcpt() -> str:
        client = raw_client(mta.port)
        return client.dialog(["EHLO client.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{team}>"])[-1]

    assert await asyncio.to_thread(rcpt) == "452 4.2.2 Mailbox full"
    _quota(mta.stores, ALICE, 0)  # unlimited again: the alias takes mail
    assert await asyncio.to_thread(rcpt) == "250 2.1.5 Recipient ok"
