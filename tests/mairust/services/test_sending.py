"""SendService over real embedded stores and a real, running spool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import dkim  # type: ignore[import-untyped]
import pytest

from mairust.config import Settings
from mairust.errors import CheckUnavailable, Forbidden, InvalidInput, NotFound, StorageUnavailable
from mairust.hooks.points import HookPoint
from mairust.model.annotations import Annotations
from mairust.model.compose import Composition, NamedAddress
from mairust.model.dkim_keys import DkimAlgorithm
from mairust.model.folders import QUARANTINE
from mairust.model.message import BlobInfo, Envelope
from mairust.model.modifications import AddHeader, AddRecipient
from mairust.model.policy import RouteAction
from mairust.model.principal import Permission, Principal, Role
from mairust.model.queue import QueueState
from mairust.model.scope import TenantScope
from mairust.model.suppression import Suppression, SuppressionReason
from mairust.model.verdict import Verdict, VerdictKind
from mairust.outbound.dkim_signer import (
    DkimSigner,
    SigningKey,
    dns_record_text,
    private_key_pem,
    public_key_text,
)
from mairust.outbound.forwarding import Forwarder
from mairust.outbound.srs import Srs
from mairust.outbound.unsubscribe import UnsubscribeTokens
from mairust.services.sending import (
    RecipientsNotLocal,
    SendPolicy,
    SendReceipt,
    SendRefused,
    SendService,
)
from mairust.services.suppressions import RecipientsSuppressed
from mairust.services.unsubscribe import UnsubscribeService
from mairust.spool import Spool
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.mairust.services.conftest import ADMIN, Clock, Tenants

POLICY = SendPolicy(hostname="mx.test.example", max_send_size=4096)


class Given:
    """A request that is already a Composition (what SendRequest.to_composition returns)."""

    def __init__(self, composition: Composition) -> None:
        self.composition = composition
        self.max_size: int | None = None

    def to_composition(self, *, max_size: int) -> Composition:
        self.max_size = max_size
        return self.composition


def message(sender: str, *to: str, bcc: tuple[str, ...] = ()) -> Given:
    return Given(
        Composition(
            from_addr=NamedAddress(sender, "Sender"),
            to=tuple(NamedAddress(a) for a in to),
            bcc=tuple(NamedAddress(a) for a in bcc),
            subject="Quarterly numbers",
            text="Here they are.\n",
        )
    )


def user(tenants: Tenants, mailbox_id: str, *permissions: Permission) -> Principal:
    return Principal(
        Role.USER,
        TenantScope(tenants.a.id, mailbox_id),
        frozenset(permissions or (Permission.SEND,)),
        "token:user",
        "192.0.2.7",
    )


def tenant_admin(tenant_id: str) -> Principal:
    return Principal(
        Role.TENANT_ADMIN,
        TenantScope(tenant_id),
        frozenset({Permission.SEND}),
        "token:tadmin",
        "192.0.2.8",
    )


@pytest.fixture
async def spool(stores: Stores) -> AsyncIterator[Spool]:
    running = Spool(stores.metadata, stores.blobs)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def service(stores: Stores, spool: Spool, clock: Clock) -> SendService:
    return SendService(stores.metadata, spool, POLICY, clock)


def blob_count(stores: Stores) -> int:
    return len(list(stores.blobs.blobs_written_before(datetime.now(UTC) + timedelta(days=1))))  # type: ignore[attr-defined]


def assert_nothing_stored(stores: Stores) -> None:
    assert stores.metadata.list_queue() == []
    assert blob_count(stores) == 0


async def test_a_user_sends_as_themselves_and_it_is_queued_before_the_answer(
    service: SendService, stores: Stores, tenants: Tenants, tmp_path: Path
):
    request = message("Alice@A.example", "amos@a.example", bcc=("bob@b.example",))
    receipt = await service.send(user(tenants, tenants.alice.id), request)

    assert request.max_size == POLICY.max_send_size
    assert receipt.recipients == ("amos@a.example", "bob@b.example")
    assert receipt.message_id == f"<{receipt.queue_id}@a.example>"
    # Durable before the answer: a second, fresh connection sees the rows and the blob.
    fresh = open_stores(Settings(data_dir=tmp_path).storage)
    try:
        rows = fresh.metadata.list_queue()
        assert sorted(r.recipient for r in rows) == ["amos@a.example", "bob@b.example"]
        assert {r.state for r in rows} == {QueueState.QUEUED}
        assert {r.message.id for r in rows} == {receipt.queue_id}
        raw = fresh.blobs.get(rows[0].message.blob_key)
    finally:
        fresh.close()
    assert len(raw) == receipt.size
    parsed = message_from_bytes(raw, policy=policy.default)
    received = str(parsed["Received"])
    assert "MaiRust API" in received and "token:user" in received
    assert f"with HTTP id {receipt.queue_id}" in received
    assert "[192.0.2.7]" in received and "by mx.test.example" in received
    # Two recipients: the trace header names neither (the Bcc stays hidden).
    assert "bob@b.example" not in received
    assert "bcc" not in parsed
    assert parsed["Message-ID"] == receipt.message_id
    assert parsed["From"].addresses[0].addr_spec == "Alice@a.example"
    assert raw.startswith(b"Received: from api ([192.0.2.7])\r\n")


async def test_one_recipient_is_named_in_the_trace_header(
    service: SendService, stores: Stores, tenants: Tenants
):
    await service.send(
        user(tenants, tenants.alice.id), message("alice@a.example", "amos@a.example")
    )
    row = stores.metadata.list_queue()[0]
    raw = stores.blobs.get(row.message.blob_key)
    assert b"\tfor <amos@a.example>; Sun, 01 Mar 2026 12:00:00 +0000\r\n" in raw


async def test_a_user_may_not_send_as_another_address_of_their_tenant(
    service: SendService, stores: Stores, tenants: Tenants
):
    with pytest.raises(Forbidden, match="own address"):
        await service.send(
            user(tenants, tenants.alice.id), message("amos@a.example", "amos@a.example")
        )
    with pytest.raises(Forbidden):
        # An address of the tenant's domain without a mailbox is not theirs either.
        await service.send(
            user(tenants, tenants.alice.id), message("noreply@a.example", "amos@a.example")
        )
    assert_nothing_stored(stores)


@pytest.mark.parametrize("sender", ["bob@b.example", "x@b.example", "x@nowhere.example"])
async def test_a_domain_out_of_reach_answers_like_a_missing_one(
    service: SendService, stores: Stores, tenants: Tenants, sender: str
):
    for principal in (user(tenants, tenants.alice.id), tenant_admin(tenants.a.id)):
        with pytest.raises(NotFound, match="no domain") as caught:
            await service.send(principal, message(sender, "amos@a.example"))
        # The same words whether the domain is another tenant's or nobody's.
        assert str(caught.value) == f"no domain {sender.split('@')[1]!r} you may send from"
    assert_nothing_stored(stores)


async def test_a_tenant_admin_sends_as_any_address_of_their_domains(
    service: SendService, stores: Stores, tenants: Tenants
):
    receipt = await service.send(
        tenant_admin(tenants.a.id), message("noreply@a.example", "alice@a.example")
    )
    assert [r.message.id for r in stores.metadata.list_queue()] == [receipt.queue_id]
    with pytest.raises(NotFound):
        await service.send(
            tenant_admin(tenants.b.id), message("noreply@a.example", "bob@b.example")
        )


async def test_the_platform_admin_sends_as_any_local_address_but_no_remote_one(
    service: SendService, stores: Stores, tenants: Tenants
):
    await service.send(ADMIN, message("postmaster@b.example", "alice@a.example"))
    with pytest.raises(NotFound):
        await service.send(ADMIN, message("someone@gmail.example", "alice@a.example"))
    assert len(stores.metadata.list_queue()) == 1


async def test_an_unknown_local_recipient_refuses_the_whole_message(
    service: SendService, stores: Stores, tenants: Tenants
):
    request = message("alice@a.example", "amos@a.example", "joe@remote.example", "ghost@a.example")
    with pytest.raises(RecipientsNotLocal) as caught:
        await service.send(user(tenants, tenants.alice.id), request)
    refusal = caught.value
    assert isinstance(refusal, InvalidInput)
    assert refusal.forwarded == ()
    assert refusal.unknown == ("ghost@a.example",)
    assert "ghost@a.example" in str(refusal)
    assert_nothing_stored(stores)
    assert stores.metadata.list_outbound() == []


async def test_remote_recipients_are_queued_for_outbound_delivery_in_the_same_commit(
    service: SendService, stores: Stores, tenants: Tenants
):
    request = message("alice@a.example", "amos@a.example", "joe@remote.example")
    receipt = await service.send(user(tenants, tenants.alice.id), request)

    assert receipt.recipients == ("amos@a.example", "joe@remote.example")
    assert [r.recipient for r in stores.metadata.list_queue()] == ["amos@a.example"]
    [remote] = stores.metadata.list_outbound()
    assert (remote.recipient, remote.destination, remote.mail_from) == (
        "joe@remote.example",
        "remote.example",
        "alice@a.example",
    )
    assert remote.message.id == receipt.queue_id
    assert remote.tenant_id == tenants.a.id
    assert remote.state.value == "scheduled"


async def test_each_recipient_gets_a_reception_event_in_its_tenant_for_the_trace(
    service: SendService, stores: Stores, tenants: Tenants
):
    request = message("alice@a.example", "amos@a.example", "bob@b.example", "joe@remote.example")
    receipt = await service.send(user(tenants, tenants.alice.id), request)

    def traced(tenant_id: str) -> list[tuple[str, str | None, str | None, str | None]]:
        found = stores.metadata.trace_events(
            tenant_admin(tenant_id).scope, header_message_id=receipt.message_id
        )
        return [
            (e.kind.value, e.message_id, e.recipient, (e.detail or {}).get("via")) for e in found
        ]

    # The sender's tenant sees its local recipient and the remote one; bob's tenant, bob.
    assert sorted(traced(tenants.a.id)) == [
        ("Reception", receipt.queue_id, "amos@a.example", "api"),
        ("Reception", receipt.queue_id, "joe@remote.example", "api"),
    ]
    assert traced(tenants.b.id) == [("Reception", receipt.queue_id, "bob@b.example", "api")]


async def test_sending_needs_the_send_permission(
    service: SendService, stores: Stores, tenants: Tenants
):
    reader = user(tenants, tenants.alice.id, Permission.READ, Permission.WRITE)
    with pytest.raises(Forbidden, match="'send'"):
        await service.send(reader, message("alice@a.example", "amos@a.example"))
    assert_nothing_stored(stores)


async def test_a_spool_that_is_not_running_refuses_with_storage_unavailable(
    stores: Stores, tenants: Tenants
):
    idle = SendService(stores.metadata, Spool(stores.metadata, stores.blobs), POLICY)
    with pytest.raises(StorageUnavailable):
        await idle.send(ADMIN, message("alice@a.example", "amos@a.example"))
    assert_nothing_stored(stores)


class BrokenBlobs:
    """A blob store whose disk is gone: every write fails."""

    def put(self, data: bytes) -> BlobInfo:
        raise OSError(28, "No space left on device")


async def test_a_body_that_cannot_be_made_durable_is_storage_unavailable(
    stores: Stores, tenants: Tenants
):
    spool = Spool(stores.metadata, BrokenBlobs())  # type: ignore[arg-type]
    await spool.start()
    try:
        broken = SendService(stores.metadata, spool, POLICY)
        with pytest.raises(StorageUnavailable):
            await broken.send(ADMIN, message("alice@a.example", "amos@a.example"))
    finally:
        await spool.stop()
    assert stores.metadata.list_queue() == []


async def test_an_observer_hears_of_each_send_and_its_failure_costs_nothing(
    stores: Stores, spool: Spool, tenants: Tenants
):
    heard: list[str] = []

    def observer(principal: Principal, receipt: SendReceipt, envelope: Envelope) -> None:
        heard.append(f"{principal.actor} {receipt.queue_id} {envelope.mail_from}")
        raise RuntimeError("the event log is down")

    service = SendService(stores.metadata, spool, POLICY, observer=observer)
    receipt = await service.send(ADMIN, message("alice@a.example", "amos@a.example"))
    assert heard == [f"test-admin {receipt.queue_id} alice@a.example"]
    assert len(stores.metadata.list_queue()) == 1


async def test_an_alias_is_local_and_a_forward_off_the_platform_is_refused(
    service: SendService, stores: Stores, tenants: Tenants
):
    """With forwarding off (no forwarder), a forwarded recipient refuses the message."""
    stores.metadata.add_alias("team@a.example", tenants.a.id, [tenants.amos.id])
    stores.metadata.add_routing_rule(
        "a.example", tenants.a.id, "out-*", RouteAction.FORWARD, "joe@remote.example"
    )
    refused = message("alice@a.example", "out-1@a.example")
    with pytest.raises(RecipientsNotLocal) as caught:
        await service.send(user(tenants, tenants.alice.id), refused)
    assert caught.value.forwarded == ("out-1@a.example",) and caught.value.unknown == ()
    assert_nothing_stored(stores)
    receipt = await service.send(
        user(tenants, tenants.alice.id), message("alice@a.example", "team@a.example")
    )
    assert receipt.recipients == ("team@a.example",)
    assert [r.recipient for r in stores.metadata.list_queue()] == ["team@a.example"]


async def test_a_forward_leaves_as_on_the_smtp_path_srs_sender_and_arc_seal(
    stores: Stores, spool: Spool, clock: Clock, tenants: Tenants
):
    """With [forwarding] on, a recipient a rule forwards is queued for the rule's target,
    standing for the forwarding address, from the sender's SRS address, the message
    sealed after it was DKIM-signed; a target the tenant suppresses is a 422."""
    stores.metadata.add_routing_rule(
        "a.example", tenants.a.id, "out-*", RouteAction.FORWARD, "joe@remote.example"
    )
    stores.metadata.add_routing_rule(
        "a.example", tenants.a.id, "gone-*", RouteAction.FORWARD, "dead@remote.example"
    )
    stores.metadata.add_suppressions(
        [
            Suppression(
                tenants.a.id,
                "dead@remote.example",
                SuppressionReason.HARD_BOUNCE,
                datetime.now(UTC),
            )
        ]
    )
    arc = SigningKey(
        "a.example", "arc", DkimAlgorithm.RSA2048, private_key_pem(DkimAlgorithm.RSA2048)
    )
    forwarder = Forwarder(
        Srs([b"srs key"]),
        "mx.test.example",
        arc_key_for=lambda domain: arc if domain == "a.example" else None,
        srs_domain="fwd.test.example",
    )
    signer, _ = dkim_signer()
    service = SendService(
        stores.metadata,
        spool,
        POLICY,
        clock,
        suppressions=stores.metadata,
        signer_for=lambda domain: signer if domain == "a.example" else None,
        forwarder=forwarder,
    )
    sent = message("alice@a.example", "out-1@a.example", "amos@a.example")
    receipt = await service.send(user(tenants, tenants.alice.id), sent)

    assert receipt.recipients == ("out-1@a.example", "amos@a.example")
    [row] = stores.metadata.list_outbound()
    assert (row.recipient, row.destination, row.orcpt) == (
        "joe@remote.example",
        "remote.example",
        "rfc822;out-1@a.example",
    )
    assert row.mail_from.startswith("SRS0=") and row.mail_from.endswith("@fwd.test.example")
    assert forwarder.bounce_target(row.mail_from) == "alice@a.example"
    assert [r.recipient for r in stores.metadata.list_queue()] == ["amos@a.example"]
    head = stores.blobs.get(row.message.blob_key).split(b"\r\n\r\n", 1)[0]
    fields = [line for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")]
    names = [line.split(b":", 1)[0].lower() for line in fields]
    # This hop's ARC set on top, over the DKIM signature made first; no checks ran on
    # mail handed in over the API, so the AAR carries only our authserv-id.
    assert names[:3] == [b"arc-seal", b"arc-message-signature", b"arc-authentication-results"]
    assert names.index(b"dkim-signature") == 3
    assert fields[2].startswith(b"ARC-Authentication-Results: i=1; mx.test.example")

    with pytest.raises(RecipientsSuppressed) as caught:
        await service.send(
            user(tenants, tenants.alice.id), message("alice@a.example", "gone-1@a.example")
        )
    assert list(caught.value.suppressed) == ["dead@remote.example"]
    assert len(stores.metadata.list_outbound()) == 1


class SendHooks:
    """The hooks the send service asks: one verdict at pre_send, the calls remembered."""

    def __init__(self, verdict: Verdict | Exception) -> None:
        self.verdict = verdict
        self.asked: list[tuple[HookPoint, Envelope, bytes | None, Collection[str]]] = []

    async def decide(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None,
        tenants: Collection[str],
    ) -> Verdict:
        self.asked.append((point, envelope, message, tenants))
        if isinstance(self.verdict, Exception):
            raise self.verdict
        return self.verdict


def hooked(stores: Stores, spool: Spool, clock: Clock, verdict: Verdict | Exception):
    hooks = SendHooks(verdict)
    return SendService(stores.metadata, spool, POLICY, clock, hooks=hooks), hooks


async def test_pre_send_hooks_are_asked_and_their_edits_applied(
    stores: Stores, spool: Spool, clock: Clock, tenants: Tenants
):
    verdict = Verdict(
        VerdictKind.CONTINUE,
        "dlp",
        annotations=Annotations(tags=("dlp-checked",)),
        modifications=(
            AddHeader("X-DLP", "clean"),
            AddRecipient("bob@b.example"),  # a local mailbox: kept
            AddRecipient("joe@remote.example"),  # routes nowhere here: dropped
        ),
    )
    service, hooks = hooked(stores, spool, clock, verdict)
    receipt = await service.send(
        user(tenants, tenants.alice.id), message("alice@a.example", "amos@a.example")
    )
    [(point, envelope, content, tenant_ids)] = hooks.asked
    assert point is HookPoint.PRE_SEND and envelope.rcpt_tos == ("amos@a.example",)
    assert content is not None and b"Quarterly numbers" in content
    assert tenant_ids == (tenants.a.id,)
    assert receipt.recipients == ("amos@a.example", "bob@b.example")
    rows = stores.metadata.list_queue()
    assert sorted(r.recipient for r in rows) == ["amos@a.example", "bob@b.example"]
    assert {r.annotations.tags for r in rows} == {("dlp-checked",)}
    assert b"X-DLP: clean\r\n" in stores.blobs.get(rows[0].message.blob_key)
    # The mailbox the hook added has its Reception, in its own tenant, as SMTP records it.
    added = stores.metadata.trace_events(
        tenant_admin(tenants.b.id).scope, header_message_id=receipt.message_id
    )
    assert [(e.kind.value, e.recipient) for e in added] == [("Reception", "bob@b.example")]


async def test_a_pre_send_quarantine_holds_the_message(
    stores: Stores, spool: Spool, clock: Clock, tenants: Tenants
):
    held = Verdict(VerdictKind.QUARANTINE, "dlp", annotations=Annotations(tags=("dlp:card",)))
    service, _ = hooked(stores, spool, clock, held)
    await service.send(
        user(tenants, tenants.alice.id), message("alice@a.example", "amos@a.example")
    )
    [row] = stores.metadata.list_queue()
    assert row.annotations == Annotations(QUARANTINE, ("dlp:card",))


@pytest.mark.parametrize(
    ("verdict", "error", "says"),
    [
        (
            Verdict(VerdictKind.REJECT, "dlp", reply="550 5.7.1 Card numbers"),
            SendRefused,
            "550 5.7.1 Card numbers",
        ),
        (Verdict(VerdictKind.DISCARD, "dlp", "quietly"), SendRefused, "discarded: quietly"),
        (Verdict(VerdictKind.TEMPFAIL, "dlp"), StorageUnavailable, "deferred by dlp"),
        (CheckUnavailable("bindings unreadable"), StorageUnavailable, "cannot decide"),
    ],
)
async def test_a_pre_send_refusal_sends_nothing(
    stores: Stores, spool: Spool, clock: Clock, tenants: Tenants, verdict, error, says
):
    service, _ = hooked(stores, spool, clock, verdict)
    with pytest.raises(error, match=says):
        await service.send(
            user(tenants, tenants.alice.id), message("alice@a.example", "amos@a.example")
        )
    assert_nothing_stored(stores)


UNSUBSCRIBE_POLICY = replace(POLICY, unsubscribe_base_url="https://mail.a.example")


def one_click(sender: str, *to: str) -> Given:
    given = message(sender, *to)
    given.composition = replace(given.composition, unsubscribe=True)
    return given


def dkim_signer() -> tuple[DkimSigner, bytes]:
    pem = private_key_pem(DkimAlgorithm.ED25519)
    record = dns_record_text(DkimAlgorithm.ED25519, public_key_text(DkimAlgorithm.ED25519, pem))
    return DkimSigner([SigningKey("a.example", "s1", DkimAlgorithm.ED25519, pem)]), record.encode()


async def test_one_click_unsubscribe_links_name_the_recipient_are_signed_and_suppress(
    stores: Stores, spool: Spool, clock: Clock, tenants: Tenants
):
    unsubscribe_tokens = UnsubscribeTokens.from_digest_keys([b"k" * 32])
    signer, record = dkim_signer()
    service = SendService(
        stores.metadata,
        spool,
        UNSUBSCRIBE_POLICY,
        clock,
        suppressions=stores.metadata,
        signer_for=lambda domain: signer if domain == "a.example" else None,
        unsubscribe_tokens=unsubscribe_tokens,
    )
    receipt = await service.send(
        user(tenants, tenants.alice.id), one_click("alice@a.example", "Joe@Remote.example")
    )

    [row] = stores.metadata.list_outbound()
    raw = stores.blobs.get(row.message.blob_key)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(parsed["List-Unsubscribe"])
    prefix = "<https://mail.a.example/api/v1/unsubscribe/"
    assert link.startswith(prefix) and link.endswith(">") and "mailto:" not in link
    # The signature covers the pair (and oversigns it: a copy added in transit breaks it).
    signature = str(parsed["DKIM-Signature"]).replace(" ", "").replace("\t", "")
    signed = signature.split("h=", 1)[1].split(";", 1)[0].split(":")
    assert signed.count("list-unsubscribe") == 2 and signed.count("list-unsubscribe-post") == 2
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record)
    # The token round trip: it names this tenant and this recipient, and suppresses it.
    token = link[len(prefix) : -1]
    claim = unsubscribe_tokens.open(token)
    assert (claim.tenant_id, claim.address) == (tenants.a.id, "joe@remote.example")
    done = UnsubscribeService(stores.metadata, unsubscribe_tokens, clock).unsubscribe(token)
    assert done.added
    [entry] = stores.metadata.list_suppressions(tenants.a.id)
    assert (entry.address, entry.reason) == ("joe@remote.example", SuppressionReason.UNSUBSCRIBE)
    assert stores.metadata.list_suppressions(tenants.b.id) == []
    assert receipt.recipients == ("joe@remote.example",)
    with pytest.raises(RecipientsSuppressed):
        await service.send(
            user(tenants, tenants.alice.id), message("alice@a.example", "joe@remote.example")
        )


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (one_click("alice@a.example", "joe@remote.example", "ann@remote.example"), "exactly one"),
        (one_click("alice@a.example", "amos@a.example"), "remote recipient"),
    ],
)
async def test_one_click_unsubscribe_needs_one_remote_recipient(
    stores: Stores, spool: Spool, clock: Clock, tenants: Tenants, request_: Given, why: str
):
    service = SendService(
        stores.metadata,
        spool,
        UNSUBSCRIBE_POLICY,
        clock,
        unsubscribe_tokens=UnsubscribeTokens.from_digest_keys([b"k" * 32]),
    )
    with pytest.raises(InvalidInput, match=why):
        await service.send(user(tenants, tenants.alice.id), request_)
    assert_nothing_stored(stores)
    assert stores.metadata.list_outbound() == []


async def test_one_click_unsubscribe_needs_a_base_url_and_the_headers_to_itself(
    stores: Stores, spool: Spool, clock: Clock, tenants: Tenants
):
    tokens = UnsubscribeTokens.from_digest_keys([b"k" * 32])
    unconfigured = SendService(stores.metadata, spool, POLICY, clock, unsubscribe_tokens=tokens)
    with pytest.raises(InvalidInput, match="base_url"):
        await unconfigured.send(
            user(tenants, tenants.alice.id), one_click("alice@a.example", "joe@remote.example")
        )
    configured = SendService(
        stores.metadata, spool, UNSUBSCRIBE_POLICY, clock, unsubscribe_tokens=tokens
    )
    given = one_click("alice@a.example", "joe@remote.example")
    given.composition = replace(
        given.composition, headers=(("List-Unsubscribe", "<https://elsewhere.example/u>"),)
    )
    with pytest.raises(InvalidInput, match="written by the `unsubscribe` option"):
        await configured.send(user(tenants, tenants.alice.id), given)
    assert stores.metadata.list_outbound() == []


async def test_a_pre_send_hook_may_not_copy_an_unsubscribe_link_to_another_recipient(
    stores: Stores, spool: Spool, clock: Clock, tenants: Tenants
):
    verdict = Verdict(VerdictKind.CONTINUE, "cc", modifications=(AddRecipient("bob@b.example"),))
    hooks = SendHooks(verdict)
    service = SendService(
        stores.metadata,
        spool,
        UNSUBSCRIBE_POLICY,
        clock,
        hooks=hooks,
        unsubscribe_tokens=UnsubscribeTokens.from_digest_keys([b"k" * 32]),
    )
    with pytest.raises(SendRefused, match="unsubscribe link"):
        await service.send(
            user(tenants, tenants.alice.id), one_click("alice@a.example", "joe@remote.example")
        )
    assert len(hooks.asked) == 1
    assert_nothing_stored(stores)
    assert stores.metadata.list_outbound() == []
