"""The end of DATA as named steps (check, pre_receive, stamp, spool) over a real loopback
server: what a ``pre_receive`` verdict does to the reply, what is stored, and how its
modifications are applied in one place."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import TYPE_CHECKING

import sqlalchemy as sa

from mairust.config import AuthSettings
from mairust.errors import CheckUnavailable
from mairust.model.annotations import Annotations
from mairust.model.message import Envelope
from mairust.model.modifications import (
    AddHeader,
    AddRecipient,
    ChangeEnvelopeFrom,
    DeleteHeader,
    DeleteRecipient,
)
from mairust.model.verdict import Verdict, VerdictKind
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_schema import messages
from tests.mairust.smtp.test_handler import (
    ALICE,
    BOB,
    DOMAIN,
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

    async def __call__(
        self, message: bytes, envelope: Envelope, tenants: Collection[str]
    ) -> Verdict:
        self.seen.append((message, envelope, tenants))
        return self.verdict


async def test_a_reject_answers_its_own_reply_and_nothing_is_stored(start_mta: StartMta):
    hook = Decides(Verdict(VerdictKind.REJECT, "rules", "spam", reply="554 5.7.1 Looks like spam"))
    mta = await start_mta(pre_receive=hook)
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert (code, reply) == (554, "5.7.1 Looks like spam")
    assert mta.queued() == [] and mta.blob_files() == []
    [(shown, envelope, tenants)] = hook.seen
    assert shown == MESSAGE and envelope.rcpt_tos == (ALICE,)
    assert len(tenants) == 1  # alice's tenant


async def test_a_reply_outside_the_verdicts_class_gives_way_to_the_table(start_mta: StartMta):
    hook = Decides(Verdict(VerdictKind.TEMPFAIL, "rules", reply="550 5.7.1 not a tempfail"))
    mta = await start_mta(pre_receive=hook)
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert (code, reply) == (451, "4.7.1 Message deferred by policy, please try again later")
    assert mta.queued() == []


async def test_a_discard_answers_250_and_keeps_nothing(start_mta: StartMta):
    mta = await start_mta(pre_receive=Decides(Verdict(VerdictKind.DISCARD, "rules")))
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert (code, reply) == (250, "2.0.0 Ok")
    assert mta.queued() == [] and mta.blob_files() == []


async def test_a_quarantine_is_stored_with_its_folder_and_tags(start_mta: StartMta):
    held = Annotations(folder="Quarantine", tags=("held",))
    mta = await start_mta(
        pre_receive=Decides(Verdict(VerdictKind.QUARANTINE, "r", annotations=held))
    )
    code, _ = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert code == 250
    [item] = mta.queued()
    assert item.annotations == held


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
    mta = await start_mta(pre_receive=Decides(verdict))
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
    mta = await start_mta(auth=auth, pre_receive=hook)
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE, SENDER)
    assert code == 550 and reply.startswith("5.7.1"), reply
    assert hook.seen == [] and mta.queued() == []


class CannotDecide:
    async def __call__(
        self, message: bytes, envelope: Envelope, tenants: Collection[str]
    ) -> Verdict:
        raise CheckUnavailable("the bindings cannot be read")


async def test_hooks_that_cannot_decide_are_a_temporary_failure(start_mta: StartMta):
    mta = await start_mta(pre_receive=CannotDecide())
    code, reply = await asyncio.to_thread(deliver, mta.port, [ALICE], MESSAGE)
    assert (code, reply[:5]) == (451, "4.3.0")
    assert mta.queued() == []
