"""The SMTP edge's hook points over a real loopback server: the end of DATA as named steps
(check, pre_receive, stamp, spool) — what a ``pre_receive`` verdict does to the reply, what
is stored, how its modifications are applied in one place — and refusals at HELO/EHLO
(``connect``), MAIL and RCPT."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from mairust.auth.results import AuthResults
from mairust.config import AuthSettings
from mairust.errors import CheckUnavailable
from mairust.events import RecordType
from mairust.hooks.points import HookPoint
from mairust.model.annotations import Annotations
from mairust.model.message import Envelope
from mairust.model.modifications import (
    AddHeader,
    AddRecipient,
    ChangeEnvelopeFrom,
    DeleteHeader,
    DeleteRecipient,
)
from mairust.model.scope import TenantScope
from mairust.model.verdict import CONTINUE, Verdict, VerdictKind
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_schema import messages
from tests.mairust.smtp.test_handler import (
    ALICE,
    BOB,
    DOMAIN,
    PASSWORD,
    SENDER,
    checking_auth,
    deliver,
    queued_id,
)

if TYPE_CHECKING:
    from tests.mairust.smtp.conftest import StartMta

MESSAGE = b"From: s@remote.test\r\nSubject: hooks\r\nX-Remove: me\r\n\r\nbody\r\n"


class Decides:
    """A pre_receive that answers ``verdict`` and remembers what it was shown."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.seen: list[tuple[bytes, Envelope, Collection[str]]] = []

    async def decide(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None,
        tenants: Collection[str],
    ) -> Verdict:
        if point is not HookPoint.PRE_RECEIVE:
            return CONTINUE
        assert message is not None
        self.seen.append((message, envelope, tenants))
        return self.verdict


async def test_a_reject_answers_its_own_reply_and_nothing_is_stored(start_mta: StartMta):
    hook = Decides(Verdict(VerdictKind.REJECT, "rules", "spam", reply="554 5.7.1 Looks like spam"))
    mta = await start_mta(hooks=hook)
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert (code, reply) == (554, "5.7.1 Looks like spam")
    assert mta.queued() == [] and mta.blob_files() == []
    [(shown, envelope, tenants)] = hook.seen
    assert shown == MESSAGE and envelope.rcpt_tos == (ALICE,)
    assert len(tenants) == 1  # alice's tenant


async def test_a_reply_outside_the_verdicts_class_gives_way_to_the_table(start_mta: StartMta):
    hook = Decides(Verdict(VerdictKind.TEMPFAIL, "rules", reply="550 5.7.1 not a tempfail"))
    mta = await start_mta(hooks=hook)
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert (code, reply) == (451, "4.7.1 Message deferred by policy, please try again later")
    assert mta.queued() == []


async def test_a_discard_answers_250_and_keeps_nothing(start_mta: StartMta):
    mta = await start_mta(hooks=Decides(Verdict(VerdictKind.DISCARD, "rules")))
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert (code, reply) == (250, "2.0.0 Ok")
    assert mta.queued() == [] and mta.blob_files() == []


async def test_a_quarantine_is_stored_with_its_folder_and_tags(start_mta: StartMta):
    held = Annotations(folder="Quarantine", tags=("held",))
    mta = await start_mta(hooks=Decides(Verdict(VerdictKind.QUARANTINE, "r", annotations=held)))
    code, _ = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert code == 250
    [item] = mta.queued()
    assert item.annotations == held


async def test_a_hooks_quarantine_holds_the_message_remembering_its_folder(start_mta: StartMta):
    # The plugin's own folder is where the message would have gone: a release puts it there.
    wanted = Annotations(folder="Newsletters", tags=("held",))
    mta = await start_mta(hooks=Decides(Verdict(VerdictKind.QUARANTINE, "r", annotations=wanted)))
    code, _ = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert code == 250
    [item] = mta.queued()
    assert item.annotations == Annotations("Quarantine", ("held",), release_folder="Newsletters")
    assert item.annotations.release_to() == "Newsletters"


async def test_modifications_are_applied_before_the_message_is_stored(start_mta: StartMta):
    verdict = Verdict(
        VerdictKind.CONTINUE,
        "rules",
        modifications=(
            AddHeader("X-Checked-By", "rules"),
            DeleteHeader("X-Remove"),
            ChangeEnvelopeFrom("bounces@remote.test"),
            DeleteRecipient(BOB),
            AddRecipient(f"jose@{DOMAIN}".replace("jose", "josé")),
            AddRecipient("someone@elsewhere.example"),  # routes nowhere here: dropped
        ),
    )
    mta = await start_mta(hooks=Decides(verdict))
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE, BOB], MESSAGE)
    assert code == 250, reply
    message_id = queued_id(reply)
    assert mta.recipients_of(message_id) == sorted([ALICE, f"josé@{DOMAIN}"])
    store = mta.stores.metadata
    assert isinstance(store, SqlMetadataStore)
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(messages.c.mail_from, messages.c.rcpt_tos).where(messages.c.id == message_id)
        ).one()
    assert row.mail_from == "bounces@remote.test"
    assert sorted(row.rcpt_tos) == sorted([ALICE, f"josé@{DOMAIN}"])
    stored = mta.body_of(message_id)
    assert b"X-Checked-By: rules\r\n" in stored and b"X-Remove" not in stored
    assert stored.endswith(b"\r\n\r\nbody\r\n")


async def test_pre_receive_is_not_asked_when_the_checks_refuse(start_mta: StartMta, raw_client):
    hook = Decides(Verdict(VerdictKind.ACCEPT, "rules"))
    # DMARC p=reject fails and is enforced: the checks refuse before any hook is asked.
    zone = {
        "remote.test": {"TXT": ["v=spf1 -all"]},
        "_dmarc.remote.test": {"TXT": ["v=DMARC1; p=reject"]},
    }
    auth = checking_auth(AuthSettings(trusted_networks=[]), zone)
    mta = await start_mta(auth=auth, hooks=hook)
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE, SENDER)
    assert code == 550 and reply.startswith("5.7.1"), reply
    assert hook.seen == [] and mta.queued() == []
    # The refusal's Rejection event keeps the results: our DMARC aggregate reports count
    # the message, refused.
    domain = mta.stores.metadata.get_domain(DOMAIN)
    assert domain is not None
    for _ in range(100):  # the event rides the spool's next group commit
        events = mta.stores.metadata.list_events(TenantScope(domain.tenant_id), limit=10)
        if events:
            break
        await asyncio.sleep(0.05)
    [event] = events
    assert event.kind is RecordType.REJECTION and event.detail is not None
    assert AuthResults.from_json(event.detail["auth_results"]).dmarc is not None
    now = datetime.now(UTC)
    [counted] = mta.stores.metadata.inbound_auth_results(
        now - timedelta(hours=1), now + timedelta(hours=1)
    )
    assert counted.refused and counted.message_id == event.message_id


class CannotDecide:
    async def decide(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None,
        tenants: Collection[str],
    ) -> Verdict:
        if point is HookPoint.PRE_RECEIVE:
            raise CheckUnavailable("the bindings cannot be read")
        return CONTINUE


async def test_hooks_that_cannot_decide_are_a_temporary_failure(start_mta: StartMta):
    mta = await start_mta(hooks=CannotDecide())
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert (code, reply[:5]) == (451, "4.3.0")
    assert mta.queued() == []


class EnvelopeRules:
    """Refuses one sender at MAIL and one recipient at RCPT; records what it was shown."""

    def __init__(self) -> None:
        self.seen: list[tuple[HookPoint, Envelope, Collection[str]]] = []

    async def decide(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None,
        tenants: Collection[str],
    ) -> Verdict:
        self.seen.append((point, envelope, tenants))
        if point is HookPoint.MAIL_FROM and envelope.mail_from == "blocked@remote.test":
            return Verdict(VerdictKind.REJECT, "envelope-rules", reply="550 5.7.1 Sender blocked")
        if point is HookPoint.RCPT_TO and envelope.rcpt_tos == (BOB,):
            return Verdict(VerdictKind.TEMPFAIL, "envelope-rules", "greylisted")
        return CONTINUE


async def test_mail_and_rcpt_hooks_refuse_before_any_data(start_mta: StartMta, raw_client):
    rules = EnvelopeRules()
    mta = await start_mta(hooks=rules)

    def dialog():
        client = raw_client(mta.port)
        return client.dialog(
            [
                "EHLO c.test",
                "MAIL FROM:<blocked@remote.test>",
                f"MAIL FROM:<{SENDER}>",
                f"RCPT TO:<{BOB}>",
                f"RCPT TO:<{ALICE}>",
            ]
        )

    replies_seen = await asyncio.to_thread(dialog)
    assert replies_seen[1] == "550 5.7.1 Sender blocked"
    assert replies_seen[2].startswith("250 2.1.0")  # a refused MAIL leaves room for another
    assert replies_seen[3] == "451 4.7.1 Message deferred by policy, please try again later"
    assert replies_seen[4].startswith("250 2.1.5")
    points = [(p, e.mail_from, e.rcpt_tos) for p, e, _ in rules.seen]
    assert points == [
        (HookPoint.CONNECT, "", ()),
        (HookPoint.MAIL_FROM, "blocked@remote.test", ()),
        (HookPoint.MAIL_FROM, SENDER, ()),
        (HookPoint.RCPT_TO, SENDER, (BOB,)),
        (HookPoint.RCPT_TO, SENDER, (ALICE,)),
    ]
    assert all(len(tenants) == 1 for p, _, tenants in rules.seen if p is HookPoint.RCPT_TO)


class ConnectRules:
    """Refuses clients that call themselves ``spam.test`` at ``connect``."""

    def __init__(self) -> None:
        self.seen: list[Envelope] = []

    async def decide(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None,
        tenants: Collection[str],
    ) -> Verdict:
        if point is not HookPoint.CONNECT:
            return CONTINUE
        self.seen.append(envelope)
        if envelope.helo == "spam.test":
            return Verdict(VerdictKind.REJECT, "connect-rules", reply="554 5.7.1 Go away")
        return CONTINUE


async def test_connect_hooks_decide_on_the_clients_address_and_name(
    start_mta: StartMta, raw_client
):
    rules = ConnectRules()
    mta = await start_mta(hooks=rules)

    def dialog():
        client = raw_client(mta.port)
        return client.dialog(
            [
                "EHLO spam.test",
                f"MAIL FROM:<{SENDER}>",
                "HELO spam.test",
                "EHLO good.test",
                f"MAIL FROM:<{SENDER}>",
                "EHLO spam.test",  # a refused greeting takes back the name given before
                f"MAIL FROM:<{SENDER}>",
            ]
        )

    answers = await asyncio.to_thread(dialog)
    assert answers[0] == "554 5.7.1 Go away"
    assert answers[1].startswith("503 ")  # no greeting was answered 250: no mail
    assert answers[2] == "554 5.7.1 Go away"
    assert answers[3].startswith("250")
    assert answers[4].startswith("250 2.1.0")
    assert answers[5] == "554 5.7.1 Go away"
    assert answers[6].startswith("503 ")
    assert [(e.helo, e.client_ip, e.mail_from, e.rcpt_tos) for e in rules.seen] == [
        ("spam.test", "127.0.0.1", "", ()),
        ("spam.test", "127.0.0.1", "", ()),
        ("good.test", "127.0.0.1", "", ()),
        ("spam.test", "127.0.0.1", "", ()),
    ]


class Points:
    """Remembers which point decided each message; refuses nothing."""

    def __init__(self) -> None:
        self.points: list[HookPoint] = []

    async def decide(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None,
        tenants: Collection[str],
    ) -> Verdict:
        if message is not None:
            self.points.append(point)
        return CONTINUE


async def test_submitted_mail_meets_pre_send_and_mail_from_outside_pre_receive(
    start_mta: StartMta,
):
    points = Points()
    mta = await start_mta(hooks=points)

    def submit() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", mta.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login(ALICE, PASSWORD)
            client.mail(ALICE)
            client.rcpt(BOB)
            return client.data(MESSAGE)

    code, _ = await asyncio.to_thread(submit)
    assert code == 250
    code, _ = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert code == 250
    assert points.points == [HookPoint.PRE_SEND, HookPoint.PRE_RECEIVE]
