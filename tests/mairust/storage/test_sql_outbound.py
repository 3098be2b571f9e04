"""Contract tests of the outbound queue (every backend in conftest.METADATA_URLS): rows made
by the spool's commit, leased by destination, settled only by the lease's owner with one
attempt each, DSNs committed with the round that owes them, leases handed back."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mairust.errors import InvalidInput
from mairust.events import Event, RecordType
from mairust.model.ids import new_id
from mairust.model.message import SpoolRecord
from mairust.model.outbound import (
    AttemptOutcome,
    AttemptResult,
    DeliveryAttempt,
    OutboundItem,
    RecipientState,
    RemoteRecipient,
)
from mairust.model.queue import QueueState
from mairust.model.scope import TenantScope
from mairust.model.suppression import Suppression, SuppressionReason
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.mairust.storage.conftest import RecordMaker

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def submitted(make_record: RecordMaker, *remote: str, local: tuple[str, ...] = ()) -> SpoolRecord:
    record = make_record(*local, *remote, mail_from="ann@a.example")
    return replace(
        record,
        remote=tuple(
            RemoteRecipient(address, "tenant-a", notify=("FAILURE",)) for address in remote
        ),
        dsn_ret="HDRS",
        dsn_envid="env-7",
    )


def attempt(item: OutboundItem, result: AttemptResult, reply: str) -> DeliveryAttempt:
    return DeliveryAttempt(
        recipient_id=item.id,
        message_id=item.message.id,
        recipient=item.recipient,
        at=T0,
        result=result,
        reply=reply,
        host="mx.far.test",
        address="127.0.0.10",
        bounce_class="unknown_user" if result is AttemptResult.BOUNCED else None,
    )


def test_the_spool_commit_splits_local_and_remote_recipients(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    record = submitted(make_record, "joe@far.test", "Kim@Other.test", local=("amy@a.example",))
    metadata_store.commit_messages([record])

    assert [item.recipient for item in metadata_store.list_queue()] == ["amy@a.example"]
    remote = sorted(metadata_store.list_outbound(), key=lambda item: item.recipient)
    assert [(r.recipient, r.destination) for r in remote] == [
        ("Kim@Other.test", "other.test"),
        ("joe@far.test", "far.test"),
    ]
    first = remote[0]
    assert first.state is RecipientState.SCHEDULED and first.attempts == 0
    assert (first.mail_from, first.tenant_id, first.notify) == (
        "ann@a.example",
        "tenant-a",
        ("FAILURE",),
    )
    assert (first.ret, first.envid) == ("HDRS", "env-7")
    assert first.message == record.ref


def test_a_forwarded_recipient_is_queued_for_its_target_with_its_own_reverse_path(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    """A forward stands for its envelope recipient but is queued for the rule's target,
    with the SRS reverse path; a relayed recipient of the same message keeps the envelope's."""
    record = replace(
        make_record("fwd@a.example", "joe@far.test", mail_from="ann@b.example"),
        remote=(
            RemoteRecipient(
                "kim@other.test",
                "tenant-a",
                orcpt="rfc822;fwd@a.example",
                envelope_recipient="fwd@a.example",
                mail_from="SRS0=abcd=2W=b.example=ann@a.example",
            ),
            RemoteRecipient("joe@far.test", "tenant-a"),
        ),
    )
    metadata_store.commit_messages([record])
    assert metadata_store.list_queue() == []
    rows = sorted(metadata_store.list_outbound(), key=lambda item: item.recipient)
    assert [(r.recipient, r.destination, r.mail_from, r.orcpt) for r in rows] == [
        ("joe@far.test", "far.test", "ann@b.example", None),
        (
            "kim@other.test",
            "other.test",
            "SRS0=abcd=2W=b.example=ann@a.example",
            "rfc822;fwd@a.example",
        ),
    ]


def test_a_remote_recipient_outside_the_envelope_is_refused_and_nothing_is_stored(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    record = replace(make_record("amy@a.example"), remote=(RemoteRecipient("joe@far.test"),))
    with pytest.raises(InvalidInput):
        metadata_store.commit_messages([record])
    assert metadata_store.list_queue() == [] and metadata_store.list_outbound() == []


def test_leasing_takes_due_rows_grouped_by_destination_and_counts_the_attempt(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    for n in range(3):
        metadata_store.commit_messages([submitted(make_record, f"x{n}@b.test", f"y{n}@a.test")])
    leased = metadata_store.lease_outbound("loop/1", 100, 60, datetime.now(UTC))

    assert len(leased) == 6
    assert [item.destination for item in leased] == ["a.test"] * 3 + ["b.test"] * 3
    assert all(item.state is RecipientState.LEASED and item.attempts == 1 for item in leased)
    assert all(item.lease_owner == "loop/1" for item in leased)
    assert metadata_store.lease_outbound("loop/2", 100, 60, datetime.now(UTC)) == []


def test_settling_records_each_outcome_and_its_attempt_for_the_owner_only(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    record = submitted(make_record, "ok@far.test", "later@far.test", "gone@far.test")
    metadata_store.commit_messages([record])
    now = datetime.now(UTC)
    items = {i.recipient: i for i in metadata_store.lease_outbound("loop/1", 10, 60, now)}
    retry_at = now + timedelta(minutes=5)
    ok = AttemptOutcome(attempt(items["ok@far.test"], AttemptResult.DELIVERED, "250 2.0.0 ok"))
    later = AttemptOutcome(
        attempt(items["later@far.test"], AttemptResult.DEFERRED, "451 4.3.0 later"), retry_at
    )
    gone = AttemptOutcome(attempt(items["gone@far.test"], AttemptResult.BOUNCED, "550 5.1.1 no"))

    # Another loop's settle changes nothing and keeps no attempt.
    assert metadata_store.settle_outbound("loop/2", now, [ok], [later], [gone]) == 0
    assert metadata_store.outbound_attempts(record.ref.id) == []

    assert metadata_store.settle_outbound("loop/1", now, [ok], [later], [gone]) == 3
    after = {i.recipient: i for i in metadata_store.list_outbound(message_id=record.ref.id)}
    assert after["ok@far.test"].state is RecipientState.DELIVERED
    assert after["later@far.test"].state is RecipientState.DEFERRED
    assert after["later@far.test"].next_attempt_at == retry_at
    assert after["later@far.test"].last_reply == "451 4.3.0 later"
    assert after["gone@far.test"].state is RecipientState.BOUNCED
    assert after["gone@far.test"].bounce_class == "unknown_user"
    assert all(item.lease_owner is None for item in after.values())
    trace = metadata_store.outbound_attempts(record.ref.id)
    assert sorted((a.recipient, a.result) for a in trace) == [
        ("gone@far.test", AttemptResult.BOUNCED),
        ("later@far.test", AttemptResult.DEFERRED),
        ("ok@far.test", AttemptResult.DELIVERED),
    ]
    assert {a.host for a in trace} == {"mx.far.test"}
    assert all(isinstance(a.result, AttemptResult) for a in trace)
    # The deferred row is due again only at its retry time.
    assert metadata_store.lease_outbound("loop/1", 10, 60, now) == []
    assert metadata_store.next_outbound_due() == retry_at
    waiting = metadata_store.outbound_counts()
    assert waiting.deferred_by_destination == {"far.test": 1}
    assert waiting.pending_by_destination == {"far.test": 1}
    [again] = metadata_store.lease_outbound("loop/1", 10, 60, retry_at)
    assert (again.recipient, again.attempts) == ("later@far.test", 2)
    counts = metadata_store.outbound_counts()
    assert counts.by_state[RecipientState.DELIVERED] == 1
    assert counts.pending_by_destination == {"far.test": 1}


def test_a_dsn_is_committed_with_the_round_that_bounced_its_original(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    record = submitted(make_record, "gone@far.test")
    metadata_store.commit_messages([record])
    now = datetime.now(UTC)
    [item] = metadata_store.lease_outbound("loop/1", 10, 60, now)
    gone = AttemptOutcome(attempt(item, AttemptResult.BOUNCED, "550 5.1.1 no"))
    dsn = make_record("ann@a.example", mail_from="")
    stale_dsn = make_record("ann@a.example", mail_from="")
    event = Event(new_id(), "tenant-a", RecordType.BOUNCE, now, message_id=record.ref.id)

    metadata_store.settle_outbound(
        "loop/1", now, bounced=[gone], dsns=[(record.ref.id, dsn)], events=[event]
    )
    # Settled again (a round run twice): no second DSN, no second event.
    metadata_store.settle_outbound(
        "loop/1", now, bounced=[gone], dsns=[(record.ref.id, stale_dsn)], events=[event]
    )

    local = metadata_store.list_queue()
    assert [(row.message.id, row.recipient) for row in local] == [(dsn.ref.id, "ann@a.example")]
    assert all(row.state is QueueState.QUEUED for row in local)
    kinds = [e.kind for e in metadata_store.list_events(TenantScope("tenant-a"), limit=10)]
    assert kinds == [RecordType.BOUNCE]


def test_a_delay_dsn_and_its_recipients_mark_commit_together_for_the_owner_only(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    record = submitted(make_record, "slow@far.test", "also@far.test")
    metadata_store.commit_messages([record])
    now = datetime.now(UTC)
    items = {i.recipient: i for i in metadata_store.lease_outbound("loop/1", 10, 60, now)}
    assert all(item.delay_notified_at is None for item in items.values())
    retry_at = now + timedelta(minutes=5)
    slow = AttemptOutcome(
        attempt(items["slow@far.test"], AttemptResult.DEFERRED, "451 4.2.0 busy"),
        retry_at,
        delay_notified=True,
    )
    also = AttemptOutcome(
        attempt(items["also@far.test"], AttemptResult.DEFERRED, "451 4.2.0 busy"), retry_at
    )
    warning = make_record("ann@a.example", mail_from="")

    # Another loop's settle keeps neither the DSN nor the mark.
    metadata_store.settle_outbound("loop/2", now, deferred=[slow], dsns=[(record.ref.id, warning)])
    assert metadata_store.list_queue() == []
    assert all(i.delay_notified_at is None for i in metadata_store.list_outbound())

    metadata_store.settle_outbound(
        "loop/1", now, deferred=[slow, also], dsns=[(record.ref.id, warning)]
    )
    marks = {i.recipient: i.delay_notified_at for i in metadata_store.list_outbound()}
    assert marks == {"slow@far.test": now, "also@far.test": None}
    assert [row.message.id for row in metadata_store.list_queue()] == [warning.ref.id]
    # The mark outlives the next lease and a deferral that does not set it again.
    again = {i.recipient: i for i in metadata_store.lease_outbound("loop/1", 10, 60, retry_at)}
    assert again["slow@far.test"].delay_notified_at == now
    later = AttemptOutcome(
        attempt(again["slow@far.test"], AttemptResult.DEFERRED, "451 4.2.0 busy"), retry_at
    )
    metadata_store.settle_outbound("loop/1", retry_at, deferred=[later])
    [slow_row] = metadata_store.list_outbound(
        message_id=record.ref.id, state=RecipientState.DEFERRED
    )
    assert (slow_row.recipient, slow_row.delay_notified_at) == ("slow@far.test", now)


def test_released_leases_fall_due_at_once_and_keep_their_pending_state(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([submitted(make_record, "a@far.test", "b@far.test")])
    now = datetime.now(UTC)
    _, second = metadata_store.lease_outbound("node/1", 10, 600, now)
    later = AttemptOutcome(attempt(second, AttemptResult.DEFERRED, "451 later"), now)
    metadata_store.settle_outbound("node/1", now, deferred=[later])
    metadata_store.lease_outbound("node/1", 10, 600, now)  # the deferred one again

    assert metadata_store.release_outbound_leases("node/", keep_owner="node/2") == 2
    states = {i.recipient: i.state for i in metadata_store.list_outbound()}
    assert states == {"a@far.test": RecipientState.SCHEDULED, "b@far.test": RecipientState.DEFERRED}
    assert len(metadata_store.lease_outbound("node/2", 10, 600, datetime.now(UTC))) == 2
    with pytest.raises(ValueError):
        metadata_store.release_outbound_leases("")


def test_an_expired_lease_is_leased_again(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages([submitted(make_record, "a@far.test")])
    now = datetime.now(UTC)
    [item] = metadata_store.lease_outbound("dead/1", 10, 30, now)
    assert metadata_store.lease_outbound("live/1", 10, 30, now + timedelta(seconds=29)) == []
    [again] = metadata_store.lease_outbound("live/1", 10, 30, now + timedelta(seconds=31))
    assert again.id == item.id and again.attempts == 2
    ok = AttemptOutcome(attempt(item, AttemptResult.DELIVERED, "250 ok"))
    assert metadata_store.settle_outbound("dead/1", now, delivered=[ok]) == 0


def test_due_outbound_rows_are_what_a_lease_would_take(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    now = datetime.now(UTC)
    assert metadata_store.due_outbound_rows(now) == 0
    metadata_store.commit_messages([submitted(make_record, "a@far.test", "b@far.test")])
    now = datetime.now(UTC)
    assert metadata_store.due_outbound_rows(now) == 2
    [_] = metadata_store.lease_outbound("loop/1", 1, 30, now)
    assert metadata_store.due_outbound_rows(now) == 1
    assert metadata_store.due_outbound_rows(now + timedelta(seconds=31)) == 2


def test_threads_leasing_together_never_share_a_row(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    metadata_store.commit_messages(
        [submitted(make_record, *(f"r{n}-{m}@d{m}.test" for m in range(5))) for n in range(40)]
    )
    taken: list[int] = []
    lock = threading.Lock()

    def lease(owner: str) -> None:
        while batch := metadata_store.lease_outbound(owner, 7, 60, datetime.now(UTC)):
            with lock:
                taken.extend(item.id for item in batch)

    threads = [threading.Thread(target=lease, args=(f"t{n}/1",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 200 and len(set(taken)) == 200


def test_a_bounce_reported_after_delivery_moves_only_delivered_rows_once(
    metadata_store: SqlMetadataStore, make_record: RecordMaker
) -> None:
    record = submitted(make_record, "took@far.test", "pending@far.test")
    metadata_store.commit_messages([record])
    now = datetime.now(UTC)
    items = {i.recipient: i for i in metadata_store.lease_outbound("loop/1", 10, 60, now)}
    took = items["took@far.test"]
    ok = AttemptOutcome(attempt(took, AttemptResult.DELIVERED, "250 2.0.0 ok"))
    later = AttemptOutcome(
        attempt(items["pending@far.test"], AttemptResult.DEFERRED, "451 4.3.0 later"), now
    )
    metadata_store.settle_outbound("loop/1", now, [ok], [later])
    reported = [
        replace(attempt(row, AttemptResult.BOUNCED, "550 5.1.1 gone after all"), at=now)
        for row in (took, items["pending@far.test"])
    ]
    dead = [
        Suppression("tenant-a", "took@far.test", SuppressionReason.HARD_BOUNCE, now, "dsn"),
        Suppression("tenant-a", "pending@far.test", SuppressionReason.HARD_BOUNCE, now, "dsn"),
    ]

    assert metadata_store.record_remote_bounces(reported, now, dead) == 1
    after = {i.recipient: i for i in metadata_store.list_outbound(message_id=record.ref.id)}
    assert after["took@far.test"].state is RecipientState.BOUNCED
    assert after["took@far.test"].last_reply == "550 5.1.1 gone after all"
    assert after["took@far.test"].bounce_class == "unknown_user"
    # The delivery loop's row is its own: untouched, and not suppressed either.
    assert after["pending@far.test"].state is RecipientState.DEFERRED
    assert [s.address for s in metadata_store.list_suppressions("tenant-a")] == ["took@far.test"]
    attempts = metadata_store.outbound_attempts(record.ref.id)
    assert [a.result for a in attempts].count(AttemptResult.BOUNCED) == 1

    # Read twice: nothing more.
    assert metadata_store.record_remote_bounces(reported, now, dead) == 0
    assert metadata_store.outbound_attempts(record.ref.id) == attempts
    assert metadata_store.record_remote_bounces([], now) == 0
