"""The outbound delivery loop: lease due recipients, send them per destination, settle
each one, and make the DSNs that bounces owe — each session's outcome in one transaction.

A plain core class (no Ray): a delivery actor hosts it under a
:class:`~mairust.supervision.Supervisor`. All state is in the store (invariant 2): a round
leases due rows (``OutboundQueue.lease_outbound``, grouped by destination, then message;
at most ``batch_size`` in flight, each round's deliveries a task of their own, so rounds
overlap), reads each message's body once, and hands each destination's
messages to the :class:`DestinationSender` in sessions of at most
``messages_per_connection`` messages, at most ``connections_per_destination`` sessions to
one destination and ``max_connections`` in all at once. When a session ends, each of its
recipients is

- delivered (a 2xx reply);
- bounced (a 5xx reply, or a temporary failure once its time is up: expired), with one
  DSN per original message to its reverse path when NOTIFY asks for one — never to ``<>``;
- deferred (4xx, a timeout, a connection or DNS failure) until the retry schedule's next
  moment; one still deferred ``delay_warning_seconds`` after it was queued makes ONE
  "delayed" DSN per message to its reverse path when NOTIFY asks (``delay_warnings``).

A session's outcomes, their attempts, the DSNs (as new messages, their bodies made durable
first; one per message and session), the hard bounces' suppressions and the tenant events
are settled in ONE transaction as soon as the session ends, only for rows this loop still
holds; sessions that end while a settle is being written share the next one (a group
commit: the writers' lock of an embedded store is not taken once per session). A loop
killed mid-round leaves leases that expire (or that its next start takes back): those
recipients are sent again, so a remote MTA may see a duplicate only for a session that was
in flight at the kill — never a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import TypeVar

from mairust.config import OutboundSettings
from mairust.errors import StorageUnavailable
from mairust.events import Event
from mairust.leased_loop import LeasedLoop
from mairust.micro_batch import KeyedBatcher
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import (
    AttemptOutcome,
    AttemptResult,
    DeliveryAttempt,
    OutboundItem,
    RemoteRecipient,
)
from mairust.model.suppression import Suppression, SuppressionReason, suppression_key
from mairust.outbound.delay_warnings import DelayWarnings
from mairust.outbound.delivery_records import log_record, tenant_events
from mairust.outbound.delivery_types import (
    BounceClassifier,
    BounceNotices,
    Clock,
    DestinationSender,
    LocalAddress,
    OutgoingMessage,
    RemoteReply,
)
from mairust.outbound.retry import RetrySchedule
from mairust.outbound.shaping import TrafficShaper
from mairust.storage.protocols import BlobStore, OutboundQueue
from mairust.telemetry import PlatformMetrics

log = logging.getLogger(__name__)

__all__ = [
    "BounceClassifier",
    "BounceNotices",
    "DestinationSender",
    "OutboundDeliveryLoop",
    "OutgoingMessage",
    "RemoteReply",
]

LOOP_NAME = "outbound delivery loop"
HARD_BOUNCE = SuppressionReason.HARD_BOUNCE
# What a DSN tells of each recipient: (row, last reply, expired) or (row, last reply, until).
_Told = TypeVar("_Told", bound=tuple[OutboundItem, RemoteReply, object])


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Settlement:
    """One session's outcomes, as one settle writes them."""

    now: datetime
    rows: int
    delivered: list[AttemptOutcome]
    deferred: list[AttemptOutcome]
    bounced: list[AttemptOutcome]
    spooled: list[tuple[str, SpoolRecord]]
    events: list[Event]
    suppress: list[Suppression]


@dataclass(slots=True)
class DeliveryFigures:
    """Running totals (the actor's metrics and report)."""

    delivered: int = 0
    deferred: int = 0
    bounced: int = 0
    expired: int = 0
    dsns: int = 0
    delay_dsns: int = 0
    sessions: int = 0
    postponed: int = 0
    rounds_settled: int = 0
    by_destination: dict[str, int] = field(default_factory=dict)


class OutboundDeliveryLoop(LeasedLoop):
    loop_name = LOOP_NAME
    rows = "outbound recipients"

    def __init__(
        self,
        identity: str,
        store: OutboundQueue,
        blobs: BlobStore,
        sender: DestinationSender,
        settings: OutboundSettings,
        *,
        hostname: str,
        notices: BounceNotices | None = None,
        classify: BounceClassifier | None = None,
        is_local: LocalAddress | None = None,
        hard_classes: frozenset[str] = frozenset(),
        dsn_recipient: Callable[[str], str] | None = None,
        clock: Clock = _utc_now,
        rng: random.Random | None = None,
        telemetry: PlatformMetrics | None = None,
    ) -> None:
        super().__init__(identity)
        self._telemetry = telemetry
        self._store = store
        self._blobs = blobs
        self._sender = sender
        self._settings = settings
        self._schedule = RetrySchedule.from_settings(settings)
        self._delay_warnings = DelayWarnings.from_settings(settings)
        self._hostname = hostname
        self._notices = notices
        self._classify = classify
        self._is_local = is_local or (lambda _address: False)
        # Where a DSN for a reverse path goes: a forwarded copy's SRS address is reversed to
        # its original sender (None: the reverse path itself).
        self._dsn_recipient = dsn_recipient or (lambda address: address)
        # Bounce classes that say an address is dead: its tenant suppresses it from then on.
        self._hard_classes = hard_classes
        self._clock = clock
        self._rng = rng or random.Random()
        self._connections = asyncio.Semaphore(settings.max_connections)
        self._shaper = TrafficShaper(settings)
        self.figures = DeliveryFigures()
        # Rounds do not wait for their sessions: each round's delivery runs as a task, and
        # the loop leases again (up to batch_size rows in flight) when one ends, so a slow
        # destination never holds up the others.
        self._in_flight: set[asyncio.Task[None]] = set()
        self._rows_in_flight = 0
        self._failure: BaseException | None = None
        # One settle written at a time; the sessions ending meanwhile share the next.
        self._settles: KeyedBatcher[None, _Settlement, None] = KeyedBatcher(
            self._settle_together, max_calls_per_key=1
        )

    @property
    def batch_size(self) -> int:
        return self._settings.batch_size

    @property
    def poll_interval(self) -> float:
        return self._settings.poll_interval

    @property
    def rows_in_flight(self) -> int:
        """Rows leased and not yet settled by this loop."""
        return self._rows_in_flight

    def release_leases(self, owner_prefix: str, keep_owner: str) -> int:
        return self._store.release_outbound_leases(owner_prefix, keep_owner)

    async def leased_round(self) -> int:
        """Lease what room is left (batch_size rows in flight at most) and start sending it;
        an earlier round's failure is raised here, for the supervisor to see."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        await self._sender.close_idle()
        room = self._settings.batch_size - self._rows_in_flight
        if room <= 0:
            return 0
        items = await asyncio.to_thread(
            self._store.lease_outbound,
            self.owner,
            room,
            self._settings.lease_seconds,
            self._clock(),
        )
        if items:
            self._rows_in_flight += len(items)
            task = asyncio.create_task(self._deliver_in_flight(items))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        # A full lease means more may be due: the loop leases again at once while room lasts.
        return self.batch_size if len(items) == room else len(items)

    async def _deliver_in_flight(self, items: Sequence[OutboundItem]) -> None:
        try:
            await self.deliver(items)
        except StorageUnavailable as error:
            # Rows that could not be settled stay leased: their lease expires (or the next
            # incarnation takes them back), and they are sent again.
            log.warning("outbound: settling a round failed, its rows wait: %s", error)
        except Exception as error:
            log.exception("outbound: a delivery round failed")
            self._failure = error
        finally:
            self._rows_in_flight -= len(items)
            self.nudge()

    async def wait_idle(self) -> None:
        """Until every round in flight has settled (tests; a graceful stop)."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def cancel_in_flight(self) -> None:
        """Stop sending at once: what was leased stays leased for the next start to take."""
        for task in self._in_flight:
            task.cancel()

    async def deliver(self, items: Sequence[OutboundItem]) -> None:
        """Send the leased ``items``, settling each session's recipients as soon as its
        session ends (a kill then re-sends only what sessions still in flight held)."""
        bodies = await self._bodies(items)
        sends = []
        for destination, group in groupby(items, key=lambda item: item.destination):
            rows = list(group)
            sends.append(self._send_destination(destination, rows, bodies))
        await asyncio.gather(*sends)

    async def _bodies(self, items: Sequence[OutboundItem]) -> dict[str, bytes | None]:
        refs = {item.message.id: item.message for item in items}

        def read_all() -> dict[str, bytes | None]:
            found: dict[str, bytes | None] = {}
            for message_id, ref in refs.items():
                try:
                    found[message_id] = self._blobs.get(ref.blob_key)
                except StorageUnavailable:
                    raise
                except Exception as error:  # a body gone missing defers its rows, loudly
                    log.error("outbound: body of %s unreadable: %r", message_id, error)
                    found[message_id] = None
            return found

        return await asyncio.to_thread(read_all)

    async def _send_destination(
        self, destination: str, rows: list[OutboundItem], bodies: dict[str, bytes | None]
    ) -> None:
        messages: list[OutgoingMessage] = []
        unreadable: list[OutboundItem] = []
        # One message per reverse path: a forwarded copy (SRS) and a relayed one of the
        # same message leave with different MAIL FROMs.
        for (message_id, _), group in groupby(
            rows, key=lambda item: (item.message.id, item.mail_from)
        ):
            recipients = tuple(group)
            content = bodies.get(message_id)
            if content is None:
                unreadable.extend(recipients)
                continue
            first = recipients[0]
            messages.append(OutgoingMessage(first.message, first.mail_from, recipients, content))
        if unreadable:
            missing = RemoteReply(451, "4.3.0", "message body unavailable")
            await self._settle(
                unreadable, bodies, dict.fromkeys((i.id for i in unreadable), missing)
            )
        limits = self._shaper.limits(destination)
        admitted = self._shaper.admit(destination, len(messages))
        if admitted.allowed < len(messages):
            await self._postpone(messages[admitted.allowed :], admitted.retry_in)
            messages = messages[: admitted.allowed]
        per_session = limits.messages_per_connection
        sessions = [messages[i : i + per_session] for i in range(0, len(messages), per_session)]
        lane = self._shaper.lane(destination)
        pool_lane = self._shaper.pool_lane(limits.pool) or contextlib.nullcontext()
        relay_host = rows[0].relay_host

        async def one_session(batch: list[OutgoingMessage]) -> None:
            async with lane, pool_lane, self._connections:
                self.figures.sessions += 1
                source = self._shaper.source_address(limits.pool)
                started = time.perf_counter()
                try:
                    replies = await self._sender.send(
                        destination, relay_host, batch, source_address=source
                    )
                except Exception as error:  # a sender bug must not lose the recipients
                    log.exception("outbound: sending to %s failed", destination)
                    reason = f"delivery to {destination} failed: {type(error).__name__}"
                    replies = {}
                    for message in batch:
                        for item in message.recipients:
                            replies[item.id] = RemoteReply(451, "4.4.0", reason)
            session_rows = [item for message in batch for item in message.recipients]
            self._count_attempts(session_rows, replies, time.perf_counter() - started)
            await self._settle(session_rows, bodies, replies)

        await asyncio.gather(*(one_session(batch) for batch in sessions))

    def _count_attempts(
        self, rows: Sequence[OutboundItem], replies: dict[int, RemoteReply], seconds: float
    ) -> None:
        """Each recipient's attempt, timed as its session (connection to last reply)."""
        if self._telemetry is None:
            return
        for item in rows:
            reply = replies.get(item.id)
            code = reply.code if reply is not None else 451
            result = "delivered" if code < 400 else "deferred" if code < 500 else "bounced"
            self._telemetry.attempt_made(result, seconds)

    async def _postpone(self, messages: Sequence[OutgoingMessage], retry_in: float) -> None:
        """Traffic shaping holds ``messages`` back: their rows go back unattempted."""
        ids = [item.id for message in messages for item in message.recipients]
        until = self._clock() + timedelta(seconds=max(retry_in, 1.0))
        await asyncio.to_thread(self._store.postpone_outbound, self.owner, ids, until)
        self.figures.postponed += len(ids)

    async def _settle(
        self,
        items: Sequence[OutboundItem],
        bodies: dict[str, bytes | None],
        replies: dict[int, RemoteReply],
    ) -> None:
        now = self._clock()
        delivered: list[AttemptOutcome] = []
        deferred: list[AttemptOutcome] = []
        bounced: list[AttemptOutcome] = []
        events: list[Event] = []
        to_notice: dict[str, list[tuple[OutboundItem, RemoteReply, bool]]] = {}
        to_warn: dict[str, list[tuple[OutboundItem, RemoteReply, datetime]]] = {}
        outcomes: list[AttemptOutcome] = []
        for item in items:
            reply = replies.get(item.id) or RemoteReply(451, "4.4.0", "no reply for recipient")
            outcome = self._outcome(item, reply, now)
            outcomes.append(outcome)
            attempt = outcome.attempt
            if attempt.result is AttemptResult.DELIVERED:
                delivered.append(outcome)
                self.figures.by_destination[item.destination] = (
                    self.figures.by_destination.get(item.destination, 0) + 1
                )
            elif attempt.result is AttemptResult.DEFERRED:
                until = self._delay_warnings.due(item, outcome, now)
                if until is not None:
                    to_warn.setdefault(item.message.id, []).append((item, reply, until))
            else:
                bounced.append(outcome)
                expired = attempt.result is AttemptResult.EXPIRED
                to_notice.setdefault(item.message.id, []).append((item, reply, expired))
        dsns: list[tuple[str, SpoolRecord]] = []
        warnings: list[tuple[str, SpoolRecord]] = []
        if self._notices is not None:
            dsns = await self._dsns(to_notice, self._notices.notice, bodies, now)
            warnings = await self._dsns(to_warn, self._notices.delay_notice, bodies, now)
        # A row is marked warned only when its message's delay DSN was made (settled with it).
        warned = {
            item.id: until for message_id, _ in warnings for item, _, until in to_warn[message_id]
        }
        for item, outcome in zip(items, outcomes, strict=True):
            if outcome.attempt.result is AttemptResult.DEFERRED:
                if item.id in warned:
                    outcome = replace(outcome, delay_notified=True)
                deferred.append(outcome)
            events.extend(tenant_events(item, outcome.attempt, outcome.retry_at, now, warned))
            log_record(item, outcome.attempt, outcome.retry_at, warned.get(item.id))
        suppress = self._suppressions(items, outcomes, now)
        settlement = _Settlement(
            now, len(items), delivered, deferred, bounced, [*dsns, *warnings], events, suppress
        )
        await self._settles.submit(None, settlement)
        self.figures.delivered += len(delivered)
        self.figures.deferred += len(deferred)
        self.figures.bounced += len(bounced)
        self.figures.expired += sum(1 for o in bounced if o.attempt.result is AttemptResult.EXPIRED)
        self.figures.dsns += len(dsns)
        self.figures.delay_dsns += len(warnings)
        self.figures.rounds_settled += 1

    async def _settle_together(self, _key: None, settlements: list[_Settlement]) -> list[None]:
        """Write ``settlements`` (sessions that ended together) in ONE transaction."""
        changed = await asyncio.to_thread(
            self._store.settle_outbound,
            self.owner,
            max(settlement.now for settlement in settlements),
            [outcome for settlement in settlements for outcome in settlement.delivered],
            [outcome for settlement in settlements for outcome in settlement.deferred],
            [outcome for settlement in settlements for outcome in settlement.bounced],
            [record for settlement in settlements for record in settlement.spooled],
            [event for settlement in settlements for event in settlement.events],
            [entry for settlement in settlements for entry in settlement.suppress],
        )
        rows = sum(settlement.rows for settlement in settlements)
        if changed < rows:
            log.warning(
                "outbound: %d of %d rows were no longer ours at settle (lease expired)",
                rows - changed,
                rows,
            )
        return [None] * len(settlements)

    def _suppressions(
        self, items: Sequence[OutboundItem], outcomes: Sequence[AttemptOutcome], now: datetime
    ) -> list[Suppression]:
        """A suppression entry for each recipient whose bounce says it is dead (a hard
        class, never an expiry), in its tenant."""
        entries: list[Suppression] = []
        for item, outcome in zip(items, outcomes, strict=True):
            attempt = outcome.attempt
            if (
                item.tenant_id is not None
                and attempt.result is AttemptResult.BOUNCED
                and attempt.bounce_class in self._hard_classes
            ):
                key = suppression_key(item.recipient)
                entries.append(Suppression(item.tenant_id, key, HARD_BOUNCE, now, attempt.reply))
        return entries

    def _outcome(self, item: OutboundItem, reply: RemoteReply, now: datetime) -> AttemptOutcome:
        """What ``reply`` makes of ``item``: delivered, bounced, deferred until the
        schedule's next moment, or expired when that moment is past its time."""
        retry_at: datetime | None = None
        if reply.delivered:
            result = AttemptResult.DELIVERED
        elif reply.permanent:
            result = AttemptResult.BOUNCED
        else:
            schedule = self._schedule
            retry_at = schedule.next_attempt(item.attempts, item.created_at, now, self._rng)
            result = AttemptResult.DEFERRED if retry_at is not None else AttemptResult.EXPIRED
        classified = None if reply.delivered or self._classify is None else self._classify(reply)
        attempt = DeliveryAttempt(
            recipient_id=item.id,
            message_id=item.message.id,
            recipient=item.recipient,
            at=now,
            result=result,
            reply=str(reply),
            host=reply.host,
            address=reply.address,
            bounce_class=classified,
        )
        return AttemptOutcome(attempt, retry_at)

    async def _dsns(
        self,
        to_notice: Mapping[str, Sequence[_Told]],
        make: Callable[[bytes, Sequence[_Told], datetime], bytes | None],
        bodies: dict[str, bytes | None],
        now: datetime,
    ) -> list[tuple[str, SpoolRecord]]:
        """One DSN per message of ``to_notice``, made by ``make`` (the notices' failed or
        delayed kind), spooled to the reverse path."""
        made: list[tuple[str, SpoolRecord]] = []
        for message_id, told in to_notice.items():
            first = told[0][0]
            if not first.mail_from:
                continue  # never a DSN to <> (RFC 3461 §6.2, RFC 5321 §4.5.5)
            original = bodies.get(message_id)
            if original is None:
                original = b""
            notice = make(original, told, now)
            if notice is None:
                continue
            blob = await asyncio.to_thread(self._blobs.put, notice)
            ref = MessageRef(id=new_id(), size=blob.size, sha256=blob.sha256, blob_key=blob.key)
            to = self._dsn_recipient(first.mail_from)
            envelope = Envelope(mail_from="", rcpt_tos=(to,), received_at=now, helo=self._hostname)
            remote = () if self._is_local(to) else (RemoteRecipient(to, first.tenant_id),)
            made.append((message_id, SpoolRecord(ref=ref, envelope=envelope, remote=remote)))
        return made
