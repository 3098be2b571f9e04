"""The spool: the 250 promise (DESIGN invariant 1).

``Spool.commit`` returns only once the body is durable in the blob store and the
message row with its queue rows is committed in the metadata store. Rows from many
concurrent SMTP sessions are committed together by one group committer, so a busy
front-end pays one transaction per batch instead of one per message (DESIGN §7).
Any failure before durability raises :class:`StorageUnavailable` (the caller answers
451 4.3.0), or :class:`InsufficientStorage` when the disk is full (452 4.3.1); nothing
is acknowledged before its transaction returned.

Events ride the same transactions: a message's Reception events are committed with it,
and refusals noted with :meth:`Spool.note_events` join the next group commit (or one of
their own when no message is waiting), so recording them costs no transaction of its
own. They are a record, not a promise: if their commit fails they are logged and dropped,
and they never cost a message its 250.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mairust.disk_space import is_out_of_space
from mairust.errors import Conflict, InsufficientStorage, InvalidInput, StorageUnavailable
from mairust.events import Event
from mairust.model.annotations import Annotations
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import RemoteRecipient
from mairust.storage.protocols import BlobStore, QueueStore
from mairust.telemetry import PlatformMetrics

log = logging.getLogger(__name__)

# Refusal events waiting for a commit, at most (a flood of refusals while the store is
# slow must not grow memory without bound; beyond this they are counted and dropped).
MAX_NOTED_EVENTS = 10_000


class CommitListener(Protocol):
    """Told about durable group commits, of the messages it has work for (e.g. to wake
    the queue without polling)."""

    def committed(self, refs: Sequence[MessageRef]) -> None:
        """Called on the event loop after each commit; must be cheap and must not raise."""
        ...


@dataclass(slots=True)
class _Pending:
    record: SpoolRecord
    done: asyncio.Future[None]


class Spool:
    """Durable acceptance of messages: blob first, then metadata rows in group commits."""

    def __init__(
        self,
        metadata: QueueStore,
        blobs: BlobStore,
        *,
        max_batch: int = 128,
        listener: CommitListener | None = None,
        outbound_listener: CommitListener | None = None,
        telemetry: PlatformMetrics | None = None,
    ) -> None:
        """``listener`` is told of the messages with a local recipient in each committed
        batch (it wakes the dispatcher);
        ``outbound_listener`` of the messages with remote recipients (it wakes a
        delivery loop); ``telemetry`` times each group commit."""
        self._telemetry = telemetry
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._metadata = metadata
        self._blobs = blobs
        self._max_batch = max_batch
        self._listener = listener
        self._outbound_listener = outbound_listener
        self._pending: list[_Pending] = []
        self._noted: list[Event] = []
        self._wakeup = asyncio.Event()
        self._committer: asyncio.Task[None] | None = None
        self._accepting = False
        self._writing = 0
        # Counters for metrics; read them as plain attributes.
        self.messages_committed = 0
        self.batches_committed = 0
        self.batches_failed = 0
        self.last_batch_size = 0
        self.max_batch_size = 0
        self.events_dropped = 0

    @property
    def avg_batch_size(self) -> float:
        """Mean number of messages per successful group commit (0.0 before the first)."""
        if self.batches_committed == 0:
            return 0.0
        return self.messages_committed / self.batches_committed

    @property
    def waiting(self) -> int:
        """Messages whose body is durable, waiting for their group commit."""
        return len(self._pending)

    @property
    def running(self) -> bool:
        return self._accepting

    async def start(self) -> None:
        """Start the group committer on the running event loop."""
        if self._committer is not None:
            raise RuntimeError("spool already started")
        self._accepting = True
        self._committer = asyncio.get_running_loop().create_task(
            self._run_committer(), name="mairust-spool-committer"
        )

    async def stop(self) -> None:
        """Refuse new commits, commit everything already handed in, then stop."""
        self._accepting = False
        committer = self._committer
        if committer is None:
            return
        self._wakeup.set()
        try:
            await committer
        finally:
            self._committer = None

    def note_events(self, events: Sequence[Event]) -> None:
        """Have ``events`` committed with the next group commit (no waiting, no promise)."""
        if not events:
            return
        if not self._accepting:
            self.events_dropped += len(events)
            return
        room = max(MAX_NOTED_EVENTS - len(self._noted), 0)
        if room < len(events):
            self.events_dropped += len(events) - room
            log.warning("spool: %d events dropped (too many waiting)", len(events) - room)
        self._noted.extend(events[:room])
        self._wakeup.set()

    async def commit(
        self,
        content: bytes,
        envelope: Envelope,
        *,
        message_id: str | None = None,
        auth_results: dict[str, Any] | None = None,
        annotations: Annotations | None = None,
        events: Sequence[Event] = (),
        remote: Sequence[RemoteRecipient] = (),
        dsn_ret: str | None = None,
        dsn_envid: str | None = None,
    ) -> MessageRef:
        """Make ``content`` durable for ``envelope`` and return its reference.

        ``message_id`` lets the caller choose the id (the SMTP edge writes it into the
        ``Received:`` header before the bytes are stored); a new one is made otherwise.
        ``auth_results`` and ``annotations`` are stored with the message row, ``events``
        (its Reception records) in the same transaction; ``remote`` recipients get an
        outbound row (with ``dsn_ret``/``dsn_envid``) instead of a local queue row.
        Raises StorageUnavailable when the message is not durable.
        """
        if not self._accepting:
            raise StorageUnavailable("the spool is not accepting messages")
        message_id = message_id or new_id()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Counted so that stop() waits for bodies being written before it lets go.
        self._writing += 1
        try:
            try:
                blob = await asyncio.to_thread(self._blobs.put, content)
            except Exception as error:
                # Whatever the backend raised, the body is not durable: the caller says 451.
                log.warning("spool: blob write failed for %s: %r", message_id, error)
                if is_out_of_space(error):
                    raise InsufficientStorage("no room to store the message body") from error
                raise StorageUnavailable("message body could not be stored") from error
            if self._committer is None or self._committer.done():
                # The committer was cancelled under us: nobody would ever commit this.
                raise StorageUnavailable("the spool's committer is not running")
            ref = MessageRef(id=message_id, size=blob.size, sha256=blob.sha256, blob_key=blob.key)
            record = SpoolRecord(
                ref=ref,
                envelope=envelope,
                auth_results=auth_results,
                annotations=annotations or Annotations(),
                events=tuple(events),
                remote=tuple(remote),
                dsn_ret=dsn_ret,
                dsn_envid=dsn_envid,
            )
            self._pending.append(_Pending(record, done))
        finally:
            self._writing -= 1
            self._wakeup.set()
        await done
        return ref

    async def _run_committer(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._pending or self._noted:
                    batch = self._pending[: self._max_batch]
                    del self._pending[: self._max_batch]
                    noted, self._noted = self._noted, []
                    if batch:
                        await self._commit_batch(batch, noted)
                    else:
                        await self._commit_events(noted)
                if not self._accepting and not self._writing and not self._pending:
                    return
        finally:
            # Only reached with work left if the committer was cancelled: fail it, so no
            # session waits forever for a promise nobody will keep.
            self._accepting = False
            leftovers, self._pending = self._pending, []
            self._fail(leftovers, None)

    async def _commit_events(self, noted: list[Event]) -> None:
        try:
            await asyncio.to_thread(self._metadata.commit_messages, [], noted)
        except Exception as error:
            self.events_dropped += len(noted)
            log.warning("spool: %d events not recorded: %r", len(noted), error)

    async def _commit_batch(self, batch: list[_Pending], noted: list[Event] | None = None) -> None:
        records = [pending.record for pending in batch]
        started = time.perf_counter()
        try:
            if noted:
                await asyncio.to_thread(self._metadata.commit_messages, records, noted)
            else:
                await asyncio.to_thread(self._metadata.commit_messages, records)
        except (InvalidInput, Conflict) as error:
            if noted:
                # The noted events go on their own: they must not cost a message its 250.
                await self._commit_batch(batch)
                await self._commit_events(noted)
                return
            if len(batch) > 1:
                # One record the store refuses must not cost the others their 250:
                # commit them one by one, so only the culprit's sender hears 451.
                log.warning("spool: group commit refused (%r); committing one by one", error)
                for pending in batch:
                    await self._commit_batch([pending])
                return
            self.batches_failed += 1
            log.warning("spool: commit of %s refused: %r", records[0].ref.id, error)
            self._count_failed(len(batch), started)
            self._fail(batch, error)
            return
        except Exception as error:
            # Not committed means not promised: every caller in the batch answers 451.
            self.batches_failed += 1
            self.events_dropped += len(noted or ())
            log.warning("spool: group commit of %d messages failed: %r", len(batch), error)
            self._count_failed(len(batch), started)
            self._fail(batch, error)
            return
        self.messages_committed += len(batch)
        self.batches_committed += 1
        self.last_batch_size = len(batch)
        self.max_batch_size = max(self.max_batch_size, len(batch))
        log.debug("spool: committed a batch of %d messages", len(batch))
        if self._telemetry is not None:
            self._telemetry.spool_committed(
                len(batch), sum(_local_rows(r) for r in records), time.perf_counter() - started
            )
        for pending in batch:
            # A session that went away meanwhile cancelled its future; its message is
            # durable all the same and will be delivered (the client may send it again).
            if not pending.done.done():
                pending.done.set_result(None)
        # Only mail with a local recipient has queue rows for the dispatcher to lease.
        self._tell_listener(self._listener, [r.ref for r in records if _has_local(r)])
        self._tell_listener(
            self._outbound_listener, [record.ref for record in records if record.remote]
        )

    def _count_failed(self, messages: int, started: float) -> None:
        if self._telemetry is not None:
            self._telemetry.spool_failed(messages, time.perf_counter() - started)

    @staticmethod
    def _fail(batch: list[_Pending], cause: BaseException | None) -> None:
        for pending in batch:
            if pending.done.done():
                continue
            # One exception object per caller: each one's traceback is its own.
            failure = (
                InsufficientStorage("no room to commit the message metadata")
                if is_out_of_space(cause)
                else StorageUnavailable("message metadata could not be committed")
            )
            failure.__cause__ = cause
            pending.done.set_exception(failure)

    @staticmethod
    def _tell_listener(listener: CommitListener | None, refs: list[MessageRef]) -> None:
        if listener is None or not refs:
            return
        try:
            listener.committed(refs)
        except Exception:
            # The commit is durable whatever the listener does; its failure is its own.
            log.exception("spool: commit listener failed for %d messages", len(refs))


def _has_local(record: SpoolRecord) -> bool:
    """Whether the record has a recipient with a local queue row (one not in ``remote``)."""
    remote = {recipient.rcpt for recipient in record.remote}
    return any(rcpt not in remote for rcpt in record.envelope.rcpt_tos)


def _local_rows(record: SpoolRecord) -> int:
    """How many local queue rows the record makes (its recipients not in ``remote``)."""
    remote = {recipient.rcpt for recipient in record.remote}
    return sum(1 for rcpt in set(record.envelope.rcpt_tos) if rcpt not in remote)
