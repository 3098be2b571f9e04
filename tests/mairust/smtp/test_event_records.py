"""Events the SMTP edge keeps in tenants' logs: a Reception per accepted recipient (with
the Message-ID found in the header section), a Rejection per refused local recipient
under the transaction's id, and nothing in any tenant's log for a refusal with no local
recipient."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from mairust.auth.results import AuthResults, DmarcResult, DmarcWord, SpfResult, SpfWord
from mairust.events import Event, RecordType
from mairust.model.annotations import Annotations
from mairust.model.message import Envelope
from mairust.model.scope import PLATFORM
from mairust.model.verdict import CONTINUE, Verdict, VerdictKind
from mairust.smtp.event_records import header_message_id, reception_detail

from .conftest import ALICE, DOMAIN, SENDER, Mta, RawClientFactory


def test_the_message_id_is_found_in_the_header_section_only() -> None:
    assert header_message_id(b"Subject: x\r\nMessage-ID: <A.1@Host.Example>\r\n\r\nb\r\n") == (
        "<A.1@host.example>"
    )
    assert header_message_id(b"message-id:<z@h.example>\r\n\r\n") == "<z@h.example>"
    # In the body it is not a header; junk is no id; a message may have none.
    assert header_message_id(b"Subject: x\r\n\r\nMessage-ID: <b@h.example>\r\n") is None
    assert header_message_id(b"Message-ID: not an id\r\n\r\n") is None
    assert header_message_id(b"Subject: x\r\n\r\n") is None


def test_a_receptions_detail_tells_the_checks_and_the_verdict() -> None:
    accepted = Envelope("x@remote.test", ("a@b.test",), datetime.now(UTC), client_ip="192.0.2.7")
    plain = reception_detail(accepted, 120, None, CONTINUE)
    assert plain == {"client": "192.0.2.7", "mail_from": "x@remote.test", "size": 120, "checks": {}}

    checked = AuthResults(
        spf=SpfResult(SpfWord.PASS, "mailfrom", "remote.test", "192.0.2.7"),
        dmarc=DmarcResult(DmarcWord.FAIL, "remote.test"),
    )
    held = Verdict(
        VerdictKind.QUARANTINE,
        "rules",
        "asked to be held",
        annotations=Annotations(tags=("suspect",)).quarantined(),
    )
    detail = reception_detail(accepted, 120, checked, held)
    assert detail["checks"] == {"spf": "pass", "dmarc": "fail"}
    assert detail["verdict"] == {
        "kind": "quarantine",
        "by": "rules",
        "reason": "asked to be held",
        "tags": ["suspect"],
        "folder": "Quarantine",
    }
    # Tags given with "continue" are told too; a bare "continue" is not.
    tagged = reception_detail(
        accepted, 1, None, Verdict(VerdictKind.CONTINUE, "t", annotations=Annotations(tags=("x",)))
    )
    assert tagged["verdict"] == {"kind": "continue", "by": "t", "tags": ["x"]}


async def _events_of(mta: Mta, count: int) -> list[Event]:
    deadline = time.monotonic() + 10
    while True:
        found = await asyncio.to_thread(mta.stores.metadata.list_events, PLATFORM)
        if len(found) >= count or time.monotonic() > deadline:
            return sorted(found, key=lambda e: (e.at, e.kind != RecordType.REJECTION))
        await asyncio.sleep(0.05)


async def test_refusals_and_the_reception_are_kept_under_one_id(
    mta: Mta, raw_client: RawClientFactory
) -> None:
    tenant = mta.stores.metadata.get_domain(DOMAIN)
    assert tenant is not None

    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            [
                "EHLO client.test",
                f"MAIL FROM:<{SENDER}>",
                f"RCPT TO:<nobody@{DOMAIN}>",
                "RCPT TO:<victim@elsewhere.test>",
                f"RCPT TO:<{ALICE}>",
                "DATA",
                "Subject: hi\r\nMessage-ID: <m1@remote.test>\r\n\r\nhello\r\n.",
            ]
        )

    replies = await asyncio.to_thread(run)
    assert replies[2].startswith("550 5.1.1 ") and replies[3].startswith("554 5.7.1 ")
    assert replies[6].startswith("250 ")
    queue_id = replies[6].rsplit(" ", 1)[-1]
    refused, received = await _events_of(mta, 2)
    # The relay refusal has no local recipient: no tenant's log holds it.
    assert (refused.kind, received.kind) == (RecordType.REJECTION, RecordType.RECEPTION)
    assert refused.tenant_id == received.tenant_id == tenant.tenant_id
    assert refused.recipient == f"nobody@{DOMAIN}" and refused.reply == replies[2]
    assert refused.message_id == received.message_id == queue_id
    assert received.recipient == ALICE and received.header_message_id == "<m1@remote.test>"
    assert received.detail is not None and received.detail["mail_from"] == SENDER
    assert refused.detail is not None and refused.detail["stage"] == "RCPT"


async def test_a_refusal_without_a_local_recipient_is_in_no_tenant_log(
    mta: Mta, raw_client: RawClientFactory
) -> None:
    def run() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            ["EHLO client.test", f"MAIL FROM:<{SENDER}>", "RCPT TO:<victim@elsewhere.test>"]
        )

    assert (await asyncio.to_thread(run))[2].startswith("554 ")

    # A local refusal afterwards shows the commit path ran (so the empty log is not early).
    def local() -> list[str]:
        client = raw_client(mta.port)
        return client.dialog(
            ["EHLO client.test", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<ghost@{DOMAIN}>"]
        )

    assert (await asyncio.to_thread(local))[2].startswith("550 ")
    found = await _events_of(mta, 1)
    assert [(e.kind, e.recipient) for e in found] == [(RecordType.REJECTION, f"ghost@{DOMAIN}")]
