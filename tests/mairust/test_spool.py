"""Spool: durable before it returns, group commits, failures become StorageUnavailable."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mairust.config import Settings
from mairust.errors import InvalidInput, StorageUnavailable
from mairust.events import Event, RecordType
from mairust.model.ids import new_id
from mairust.model.message import BlobInfo, Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import RemoteRecipient
from mairust.model.scope import PLATFORM
from mairust.spool import Spool
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.support.sqlite_template import migrate_for_test

ALICE = "alice@example.test"
BOB = "bob@example.test"


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    settings = Settings(data_dir=tmp_path)
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    yield opened
    opened.close()


def envelope(*rcpts: str) -> Envelope:
    return Envelope(
        mail_from="sender@remote.test",
        rcpt_tos=rcpts or (ALICE,),
        received_at=datetime.now(UTC),
        helo="client.test",
        client_ip="127.0.0.1",
    )


class RecordingMetadata:
    """The real store; records each batch and can hold commits at a gate or fail them."""

    def __init__(self, real: object) -> None:
        self._real = real
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.in_commit = 0  # messages inside commit_messages right now
        self.failure: Exception | None = None

    def commit_messages(self, records: Sequence[SpoolRecord]) -> None:
        self.in_commit = len(records)
        self.entered.set()
        assert self.gate.wait(30)
        if self.failure is not None:
            raise self.failure
        self._real.commit_messages(records)  # type: ignore[attr-defined]
        self.batches.append([record.ref.id for record in records])
        self.in_commit = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within 30 s")


class FailingBlobs:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def put(self, data: bytes) -> BlobInfo:
        raise self.error


class RecordingListener:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[MessageRef]] = []
        self.fail = fail

    def committed(self, refs: Sequence[MessageRef]) -> None:
        self.calls.append(list(refs))
        if self.fail:
            raise RuntimeError("listener bug")


async def test_commit_makes_blob_and_queue_rows_durable(stores: Stores) -> None:
    spool = Spool(stores.metadata, stores.blobs)
    await spool.start()
    content = b"Subject: hi\r\n\r\nhello\r\n"

    ref = await spool.commit(content, envelope(ALICE, BOB))
    await spool.stop()

    assert len(ref.id) == 26
    assert ref.size == len(content)
    assert ref.sha256 == hashlib.sha256(content).hexdigest()
    assert stores.blobs.get(ref.blob_key) == content
    items = stores.metadata.list_queue()
    assert sorted(item.recipient for item in items) == [ALICE, BOB]
    assert {item.message for item in items} == {ref}
    assert spool.messages_committed == 1 and spool.batches_committed == 1


async def test_commit_uses_the_message_id_given(stores: Stores) -> None:
    spool = Spool(stores.metadata, stores.blobs)
    await spool.start()
    ref = await spool.commit(b"x\r\n", envelope(), message_id="01JCHOSENBYTHEHANDLER0000")
    await spool.stop()
    assert ref.id == "01JCHOSENBYTHEHANDLER0000"
    assert [item.message.id for item in stores.metadata.list_queue()] == [ref.id]


async def test_nothing_is_acknowledged_before_the_transaction_returns(stores: Stores) -> None:
    metadata = RecordingMetadata(stores.metadata)
    metadata.gate.clear()
    spool = Spool(metadata, stores.blobs)  # type: ignore[arg-type]
    await spool.start()

    commit = asyncio.ensure_future(spool.commit(b"x\r\n", envelope()))
    assert await asyncio.to_thread(metadata.entered.wait, 30)
    await asyncio.sleep(0.1)
    assert not commit.done()  # the transaction is still running
    metadata.gate.set()
    ref = await commit
    await spool.stop()
    assert metadata.batches == [[ref.id]]


async def test_concurrent_commits_are_grouped(stores: Stores) -> None:
    metadata = RecordingMetadata(stores.metadata)
    metadata.gate.clear()  # hold the first commit so the others queue up behind it
    spool = Spool(metadata, stores.blobs)  # type: ignore[arg-type]
    await spool.start()

    commits = [
        asyncio.ensure_future(spool.commit(f"message {n}\r\n".encode(), envelope()))
        for n in range(20)
    ]
    assert await asyncio.to_thread(metadata.entered.wait, 30)
    await wait_until(lambda: metadata.in_commit + spool.waiting == 20)  # bodies written
    first = metadata.in_commit
    metadata.gate.set()
    refs = await asyncio.gather(*commits)
    await spool.stop()

    assert [len(batch) for batch in metadata.batches] == [first, 20 - first]
    assert first < 20
    assert {item.message.id for item in stores.metadata.list_queue()} == {r.id for r in refs}
    assert spool.messages_committed == 20
    assert spool.batches_committed == 2
    assert spool.avg_batch_size == 10.0
    assert spool.max_batch_size == max(first, 20 - first) > 1
    assert spool.last_batch_size == 20 - first
    assert spool.waiting == 0


async def test_batches_never_exceed_max_batch(stores: Stores) -> None:
    metadata = RecordingMetadata(stores.metadata)
    metadata.gate.clear()
    spool = Spool(metadata, stores.blobs, max_batch=4)  # type: ignore[arg-type]
    await spool.start()
    commits = [
        asyncio.ensure_future(spool.commit(f"m{n}\r\n".encode(), envelope())) for n in range(13)
    ]
    assert await asyncio.to_thread(metadata.entered.wait, 30)
    await wait_until(lambda: metadata.in_commit + spool.waiting == 13)
    first = metadata.in_commit
    metadata.gate.set()
    await asyncio.gather(*commits)
    await spool.stop()

    rest = 13 - first
    assert [len(batch) for batch in metadata.batches] == [first] + [4] * (rest // 4) + (
        [rest % 4] if rest % 4 else []
    )


async def test_metadata_failure_fails_every_caller_of_the_batch(stores: Stores) -> None:
    metadata = RecordingMetadata(stores.metadata)
    metadata.failure = RuntimeError("disk I/O error")
    spool = Spool(metadata, stores.blobs)  # type: ignore[arg-type]
    await spool.start()

    results = await asyncio.gather(
        *(spool.commit(f"m{n}\r\n".encode(), envelope()) for n in range(3)),
        return_exceptions=True,
    )

    assert all(isinstance(result, StorageUnavailable) for result in results)
    assert stores.metadata.list_queue() == []
    assert spool.messages_committed == 0 and spool.batches_failed >= 1
    # The spool keeps working once the store is back.
    metadata.failure = None
    ref = await spool.commit(b"again\r\n", envelope())
    await spool.stop()
    assert [item.message.id for item in stores.metadata.list_queue()] == [ref.id]


@pytest.mark.parametrize("error", [StorageUnavailable("disk full"), OSError(28, "No space")])
async def test_blob_failure_raises_storage_unavailable(stores: Stores, error: Exception) -> None:
    metadata = RecordingMetadata(stores.metadata)
    spool = Spool(metadata, FailingBlobs(error))  # type: ignore[arg-type]
    await spool.start()

    with pytest.raises(StorageUnavailable):
        await spool.commit(b"x\r\n", envelope())
    await spool.stop()

    assert metadata.batches == []
    assert not metadata.entered.is_set()


async def test_listener_hears_each_commit_and_cannot_break_it(stores: Stores) -> None:
    listener = RecordingListener(fail=True)
    spool = Spool(stores.metadata, stores.blobs, listener=listener)
    await spool.start()

    first = await spool.commit(b"one\r\n", envelope())
    second = await spool.commit(b"two\r\n", envelope())
    await spool.stop()

    assert listener.calls == [[first], [second]]


async def test_each_listener_hears_only_the_messages_it_has_work_for(stores: Stores) -> None:
    """The dispatcher's listener hears of messages with a local recipient (a queue row), the
    outbound one of those with a remote recipient: mail only for elsewhere wakes no
    dispatcher, which would find nothing to lease."""
    local, outbound = RecordingListener(), RecordingListener()
    spool = Spool(stores.metadata, stores.blobs, listener=local, outbound_listener=outbound)
    await spool.start()
    far = RemoteRecipient("joe@far.test", None)
    only_here = await spool.commit(b"one\r\n", envelope(ALICE))
    only_far = await spool.commit(b"two\r\n", envelope("joe@far.test"), remote=(far,))
    both = await spool.commit(b"three\r\n", envelope(ALICE, "joe@far.test"), remote=(far,))
    await spool.stop()

    assert local.calls == [[only_here], [both]]
    assert outbound.calls == [[only_far], [both]]


async def test_stop_drains_commits_in_flight_then_refuses(stores: Stores) -> None:
    metadata = RecordingMetadata(stores.metadata)
    metadata.gate.clear()
    spool = Spool(metadata, stores.blobs)  # type: ignore[arg-type]
    await spool.start()
    commits = [
        asyncio.ensure_future(spool.commit(f"m{n}\r\n".encode(), envelope())) for n in range(5)
    ]
    assert await asyncio.to_thread(metadata.entered.wait, 30)

    stopping = asyncio.ensure_future(spool.stop())
    await asyncio.sleep(0.05)
    with pytest.raises(StorageUnavailable):
        await spool.commit(b"late\r\n", envelope())
    metadata.gate.set()
    await stopping

    refs = [commit.result() for commit in commits]
    assert {item.message.id for item in stores.metadata.list_queue()} == {r.id for r in refs}


async def test_commit_before_start_is_refused(stores: Stores) -> None:
    spool = Spool(stores.metadata, stores.blobs)
    with pytest.raises(StorageUnavailable):
        await spool.commit(b"x\r\n", envelope())
    assert stores.metadata.list_queue() == []


class RefusingMetadata(RecordingMetadata):
    """Refuses any batch that holds a record sent from the poisoned client address."""

    def commit_messages(self, records: Sequence[SpoolRecord]) -> None:
        if any(record.envelope.client_ip == "192.0.2.66" for record in records):
            raise InvalidInput("a value the database cannot hold")
        super().commit_messages(records)


async def test_one_refused_record_does_not_cost_the_batch_its_250(stores: Stores) -> None:
    metadata = RefusingMetadata(stores.metadata)
    metadata.gate.clear()  # hold the first commit so the rest pile up into one batch
    spool = Spool(metadata, stores.blobs)  # type: ignore[arg-type]
    await spool.start()
    first = asyncio.ensure_future(spool.commit(b"first\r\n", envelope()))
    await asyncio.to_thread(metadata.entered.wait, 30)
    poisoned = replace(envelope(), client_ip="192.0.2.66")
    rest = [asyncio.ensure_future(spool.commit(f"m{n}\r\n".encode(), envelope())) for n in range(3)]
    bad = asyncio.ensure_future(spool.commit(b"bad\r\n", poisoned))
    await asyncio.sleep(0.2)
    metadata.gate.set()
    await first
    good = await asyncio.gather(*rest)
    with pytest.raises(StorageUnavailable):
        await bad
    await spool.stop()
    assert sorted(i.message.id for i in stores.metadata.list_queue()) == sorted(
        [first.result().id, *(ref.id for ref in good)]
    )


class EventCountingMetadata:
    """The real store; records (messages, noted events) of each commit_messages call."""

    def __init__(self, real: object) -> None:
        self._real = real
        self.calls: list[tuple[int, int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def commit_messages(self, records: Sequence[SpoolRecord], events: Sequence[Event] = ()) -> None:
        self.entered.set()
        assert self.gate.wait(30)
        self._real.commit_messages(records, events)  # type: ignore[attr-defined]
        self.calls.append((len(records), len(events)))

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


def refusal(tenant_id: str = "t1", event_id: str | None = None) -> Event:
    return Event(
        id=event_id or new_id(),
        tenant_id=tenant_id,
        kind=RecordType.REJECTION,
        at=datetime.now(UTC),
        recipient="nobody@example.test",
        reply="550 5.1.1 Recipient address rejected: user unknown",
    )


async def test_noted_events_ride_the_next_group_commit(stores: Stores) -> None:
    metadata = EventCountingMetadata(stores.metadata)
    spool = Spool(metadata, stores.blobs)  # type: ignore[arg-type]
    await spool.start()
    metadata.gate.clear()  # hold the committer so that the note and the message meet
    first = asyncio.create_task(spool.commit(b"x\r\n", envelope()))
    await wait_until(metadata.entered.is_set)  # the first message's commit is under way
    spool.note_events([refusal(), refusal()])
    second = asyncio.create_task(spool.commit(b"y\r\n", envelope()))
    await wait_until(lambda: spool.waiting >= 1)
    metadata.gate.set()
    await asyncio.gather(first, second)
    # Refusals alone are committed too, in a transaction of their own.
    spool.note_events([refusal()])
    await wait_until(lambda: sum(events for _, events in metadata.calls) == 3)
    await spool.stop()
    assert sum(messages for messages, _ in metadata.calls) == 2
    assert any(messages and events == 2 for messages, events in metadata.calls)
    assert (0, 1) in metadata.calls
    assert len(stores.metadata.list_events(PLATFORM)) == 3


async def test_a_refused_event_never_costs_a_message_its_250(stores: Stores) -> None:
    taken = refusal(event_id=new_id())
    stores.metadata.append_events([taken])
    spool = Spool(stores.metadata, stores.blobs)
    await spool.start()
    spool.note_events([refusal(event_id=taken.id)])  # the same id again: refused by the store
    ref = await spool.commit(b"x\r\n", envelope())
    await spool.stop()
    assert [item.message.id for item in stores.metadata.list_queue()] == [ref.id]
    assert spool.events_dropped == 1
