"""The outbound delivery loop over a real metadata store and blob store, a real DNS server
on loopback and real SMTP servers on loopback (scripted replies), on a test's own clock:
delivered, deferred then delivered once on schedule, one recipient bounced alone, expired
after its time, null MX bounced at once, DNS failure deferred, leases of a dead loop
taken back, a long deferral warned once with a "delayed" DSN, sessions that end while a
settle is being written settled together in the next."""

from __future__ import annotations

import email
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from mairust.auth.dns_resolver import CachingResolver
from mairust.config import DestinationLimits, OutboundSettings, SourcePool
from mairust.events import RecordType
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import AttemptResult, RecipientState, RemoteRecipient
from mairust.model.scope import TenantScope
from mairust.outbound.bounce_class import HARD_CLASSES
from mairust.outbound.bounce_notices import DsnNotices, classify_remote_reply
from mairust.outbound.delivery import OutboundDeliveryLoop
from mairust.outbound.dsn_fields import DsnAction
from mairust.outbound.forwarding import Forwarder
from mairust.outbound.report_parsing import DeliveryReport, parse_report
from mairust.outbound.smtp_sender import SmtpDestinationSender
from mairust.outbound.smtp_types import ClientSettings, Timeouts
from mairust.outbound.srs import Srs
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.telemetry import PlatformMetrics
from tests.mairust.outbound.test_smtp_sender import port_free_on
from tests.mairust.test_telemetry import values
from tests.support.dns_server import ZoneServer
from tests.support.scripted_smtp import Script, ScriptedSmtpServer
from tests.support.sqlite_template import upgrade_to_head_for_test


def an_hour_ahead() -> datetime:
    """Where a world's clock starts: the spool's commit stamps rows with the wall clock, and
    the loop's own clock is an hour ahead of it, so what was just committed is due. Taken
    when the world is made, not when the module is imported: under CI a test may run long
    after collection."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


TENANT = "tenant-a"
MX_ADDRESS = "127.0.0.41"
CLIENT = ClientSettings(helo_name="out.ours.test", timeouts=Timeouts(connect=2, command=5))
SCHEDULE = OutboundSettings(
    retry_initial_seconds=600,
    retry_factor=2,
    retry_max_seconds=4 * 3600,
    retry_jitter=0,
    expire_seconds=5 * 86400,
    poll_interval=0.05,
)


@dataclass
class Clock:
    now: datetime = field(default_factory=an_hour_ahead)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    store: SqlMetadataStore
    blobs: FileBlobStore
    server: ScriptedSmtpServer
    resolver: CachingResolver
    port: int
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.t0 = self.clock.now  # the world's first moment

    def loop(
        self,
        identity: str = "node-a",
        settings: OutboundSettings = SCHEDULE,
        dsn_recipient: Callable[[str], str] | None = None,
        telemetry: PlatformMetrics | None = None,
    ) -> OutboundDeliveryLoop:
        sender = SmtpDestinationSender(self.resolver, CLIENT, port=self.port)
        return OutboundDeliveryLoop(
            identity,
            self.store,
            self.blobs,
            sender,
            settings,
            hostname="out.ours.test",
            notices=DsnNotices("out.ours.test"),
            classify=classify_remote_reply,
            is_local=lambda address: address.endswith("@ours.test"),
            hard_classes=frozenset(HARD_CLASSES),
            dsn_recipient=dsn_recipient,
            clock=self.clock,
            rng=random.Random(7),
            telemetry=telemetry,
        )

    def submit(
        self, *recipients: str, sender: str = "ann@ours.test", notify: tuple[str, ...] = ()
    ) -> str:
        body = f"From: {sender}\r\nSubject: {new_id()}\r\n\r\nhello\r\n".encode()
        blob = self.blobs.put(body)
        ref = MessageRef(new_id(), blob.size, blob.sha256, blob.key)
        envelope = Envelope(sender, recipients, self.clock.now)
        remote = tuple(RemoteRecipient(r, TENANT, notify=notify) for r in recipients)
        self.store.commit_messages([SpoolRecord(ref, envelope, remote=remote)])
        # commit_messages stamps rows with the wall clock; the test's clock is what counts.
        return ref.id

    def states(self, message_id: str) -> dict[str, RecipientState]:
        return {r.recipient: r.state for r in self.store.list_outbound(message_id=message_id)}

    async def round(self, loop: OutboundDeliveryLoop) -> int:
        """One lease, and its deliveries settled."""
        leased = await loop.leased_round()
        await loop.wait_idle()
        return leased


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    port = port_free_on(MX_ADDRESS)
    zone: dict[str, dict[str, Any]] = {
        "far.test": {"MX": [(10, "mx.far.test")]},
        "mx.far.test": {"A": [MX_ADDRESS]},
        "nomail.test": {"MX": [(0, ".")]},
        "down.test": {"MX": [(10, "mx.down.test")]},
    }
    script = Script(
        rcpt={
            "nobody@far.test": ["550 5.1.1 No such user"] * 10,
            "busy@far.test": ["451 4.2.0 Busy", "451 4.2.0 Busy"],
            "never@far.test": ["451 4.2.0 Busy"] * 100,
        }
    )
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    store = SqlMetadataStore(url)
    with (
        ZoneServer(zone, servfail_names=["down.test"]) as dns,
        ScriptedSmtpServer(script, address=MX_ADDRESS, port=port) as server,
    ):
        resolver = CachingResolver(["127.0.0.1"], port=dns.port, timeout=1.0)
        yield World(store, FileBlobStore(tmp_path / "blobs"), server, resolver, port)
    store.close()


def received_by(world: World, recipient: str) -> int:
    return sum(recipient in m.rcpt_tos for m in world.server.messages)


async def test_a_message_is_delivered_with_its_attempt_and_a_delivery_event(world: World) -> None:
    message_id = world.submit("joe@far.test", "kim@far.test")
    loop = world.loop()

    assert await world.round(loop) == 2

    assert world.states(message_id) == {
        "joe@far.test": RecipientState.DELIVERED,
        "kim@far.test": RecipientState.DELIVERED,
    }
    [message] = world.server.messages  # both recipients in one transaction
    assert sorted(message.rcpt_tos) == ["joe@far.test", "kim@far.test"]
    assert message.mail_from == "ann@ours.test"
    attempts = world.store.outbound_attempts(message_id)
    assert {(a.result, a.host, a.address) for a in attempts} == {
        (AttemptResult.DELIVERED, "mx.far.test", MX_ADDRESS)
    }
    events = world.store.list_events(TenantScope(TENANT), limit=10)
    assert sorted(e.kind for e in events) == [RecordType.DELIVERY, RecordType.DELIVERY]
    assert loop.figures.delivered == 2 and loop.figures.sessions == 1


async def test_sessions_ending_during_a_settle_share_the_next_one(world: World) -> None:
    sessions = 5
    message_ids = [world.submit(f"user{n}@far.test") for n in range(sessions)]
    settings = SCHEDULE.model_copy(update={"messages_per_connection": 1})
    loop = world.loop(settings=settings)
    real_settle = world.store.settle_outbound
    settled_rows: list[int] = []

    def settle_outbound(*args: Any) -> int:
        if not settled_rows:
            # The first settle is slow: every other session ends while it is written.
            deadline = time.monotonic() + 10
            while len(world.server.messages) < sessions and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.5)
        delivered = args[2]
        settled_rows.append(len(delivered))
        return real_settle(*args)

    world.store.settle_outbound = settle_outbound  # type: ignore[method-assign,assignment]
    assert await world.round(loop) == sessions

    assert loop.figures.sessions == sessions
    # Those that ended while the first settle was written share the second (sessions that
    # ended in the same loop turn as the first one may have joined it).
    assert len(settled_rows) <= 2 and sum(settled_rows) == sessions
    for message_id in message_ids:
        assert set(world.states(message_id).values()) == {RecipientState.DELIVERED}
    assert len(world.server.messages) == sessions


async def test_a_deferred_recipient_is_delivered_once_on_schedule(world: World) -> None:
    message_id = world.submit("busy@far.test")
    loop = world.loop()

    await world.round(loop)  # 451: retry in 600 s
    [row] = world.store.list_outbound(message_id=message_id)
    assert row.state is RecipientState.DEFERRED
    assert row.next_attempt_at == world.t0 + timedelta(seconds=600)
    assert row.last_reply == "451 4.2.0 Busy"

    world.clock.now = world.t0 + timedelta(seconds=599)
    assert await world.round(loop) == 0  # not due yet
    world.clock.now = world.t0 + timedelta(seconds=600)
    await world.round(loop)  # 451 again: the next wait is twice as long
    [row] = world.store.list_outbound(message_id=message_id)
    assert row.next_attempt_at == world.clock.now + timedelta(seconds=1200)

    world.clock.now = row.next_attempt_at
    await world.round(loop)
    assert world.states(message_id) == {"busy@far.test": RecipientState.DELIVERED}
    assert received_by(world, "busy@far.test") == 1
    results = [a.result for a in world.store.outbound_attempts(message_id)]
    assert results == [AttemptResult.DEFERRED, AttemptResult.DEFERRED, AttemptResult.DELIVERED]


async def test_a_550_bounces_only_that_recipient(world: World) -> None:
    message_id = world.submit("joe@far.test", "nobody@far.test")
    telemetry = PlatformMetrics()
    await world.round(world.loop(telemetry=telemetry))
    # Each recipient's attempt is counted by its result, timed as its session.
    text = telemetry.snapshot("outbound-delivery-0").exposition
    assert values(text, "mairust_delivery_attempt_duration_seconds_count") == {
        (("result", "delivered"),): 1.0,
        (("result", "bounced"),): 1.0,
    }

    assert world.states(message_id) == {
        "joe@far.test": RecipientState.DELIVERED,
        "nobody@far.test": RecipientState.BOUNCED,
    }
    [row] = world.store.list_outbound(message_id=message_id, state=RecipientState.BOUNCED)
    assert row.last_reply == "550 5.1.1 No such user"
    assert row.bounce_class == "unknown_user"
    assert received_by(world, "joe@far.test") == 1


async def test_a_bounce_makes_one_dsn_to_a_local_sender_and_suppresses_a_dead_address(
    world: World,
) -> None:
    message_id = world.submit("joe@far.test", "nobody@far.test")
    await world.round(world.loop())

    # The DSN is a new message in the same commit, queued for the local sender's mailbox.
    [dsn_row] = world.store.list_queue()
    assert dsn_row.recipient == "ann@ours.test"
    dsn = email.message_from_bytes(world.blobs.get(dsn_row.message.blob_key), policy=default)
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    status = next(p for p in dsn.walk() if p.get_content_type() == "message/delivery-status")
    assert "nobody@far.test" in status.as_string() and "5.1.1" in status.as_string()
    assert "joe@far.test" not in status.as_string()  # delivered ones are not reported
    [suppressed] = world.store.list_suppressions(TENANT)
    assert (suppressed.address, suppressed.reason.value) == ("nobody@far.test", "hard_bounce")
    assert world.states(message_id)["nobody@far.test"] is RecipientState.BOUNCED


async def test_a_dsn_to_a_remote_sender_goes_out_with_a_null_reverse_path(world: World) -> None:
    world.submit("nobody@far.test", sender="zed@far.test")
    await world.round(world.loop())

    [dsn] = world.store.list_outbound(state=RecipientState.SCHEDULED)
    assert (dsn.mail_from, dsn.recipient, dsn.destination) == ("", "zed@far.test", "far.test")
    # A bounce of the DSN itself owes nobody a DSN (never to <>).
    await world.round(world.loop())
    assert world.states(dsn.message.id) == {"zed@far.test": RecipientState.DELIVERED}
    [bounce_mail] = [m for m in world.server.messages if m.rcpt_tos == ["zed@far.test"]]
    assert bounce_mail.mail_from == "<>"  # aiosmtpd's spelling of the null reverse path


async def test_notify_never_asks_for_no_dsn_and_a_null_sender_gets_none(world: World) -> None:
    world.submit("nobody@far.test", notify=("NEVER",))
    world.submit("nobody@far.test", sender="")
    await world.round(world.loop())

    assert world.store.list_queue() == []
    assert world.store.list_outbound(state=RecipientState.SCHEDULED) == []
    assert len(world.store.list_outbound(state=RecipientState.BOUNCED)) == 2


async def test_a_recipient_deferred_past_its_time_expires_as_a_bounce(world: World) -> None:
    message_id = world.submit("never@far.test")
    loop = world.loop()
    await world.round(loop)
    tries = 1
    while world.states(message_id)["never@far.test"] is RecipientState.DEFERRED:
        [row] = world.store.list_outbound(message_id=message_id)
        world.clock.now = row.next_attempt_at
        await world.round(loop)
        tries += 1
        assert tries < 60, "never expired"

    # The last try falls on the expiry moment (never later), and nothing bounces early.
    [row] = world.store.list_outbound(message_id=message_id)
    assert world.clock.now == row.created_at + timedelta(days=5)
    attempts = world.store.outbound_attempts(message_id)
    assert attempts[-1].result is AttemptResult.EXPIRED
    assert all(a.result is AttemptResult.DEFERRED for a in attempts[:-1])
    kinds = [e.kind for e in world.store.list_events(TenantScope(TENANT), limit=200)]
    assert kinds.count(RecordType.EXPIRATION) == 1 and kinds.count(RecordType.BOUNCE) == 1
    assert loop.figures.expired == 1
    # Backoff doubled up to its cap: no more than ~40 tries in 5 days.
    assert 10 < tries < 45


async def test_null_mx_bounces_at_once_and_a_dns_failure_defers(world: World) -> None:
    nomail = world.submit("x@nomail.test")
    down = world.submit("y@down.test")
    await world.round(world.loop())

    [bounced] = world.store.list_outbound(message_id=nomail)
    assert bounced.state is RecipientState.BOUNCED
    assert bounced.last_reply is not None and "5.1.10" in bounced.last_reply
    [deferred] = world.store.list_outbound(message_id=down)
    assert deferred.state is RecipientState.DEFERRED
    assert deferred.last_reply is not None and "4.4.3" in deferred.last_reply
    assert world.server.messages == []


async def test_a_new_incarnation_takes_back_a_dead_loops_leases(world: World) -> None:
    message_id = world.submit("joe@far.test")
    dead = world.loop("node-a")
    leased = world.store.lease_outbound(dead.owner, 10, 300, world.clock.now)
    assert [row.recipient for row in leased] == ["joe@far.test"]  # and then it died

    fresh = world.loop("node-a")
    fresh.stop()  # run() then only hands back what earlier incarnations hold
    await fresh.run()
    await world.round(fresh)

    assert world.states(message_id) == {"joe@far.test": RecipientState.DELIVERED}
    assert received_by(world, "joe@far.test") == 1


async def test_a_rate_limited_destination_takes_its_burst_and_postpones_the_rest(
    world: World,
) -> None:
    shaped = SCHEDULE.model_copy(
        update={"destinations": {"far.test": DestinationLimits(rate_per_minute=60)}}
    )
    ids = [world.submit(f"r{n}@far.test") for n in range(8)]
    loop = world.loop(settings=shaped)
    await world.round(loop)

    rows = [r for i in ids for r in world.store.list_outbound(message_id=i)]
    delivered = [r for r in rows if r.state is RecipientState.DELIVERED]
    waiting = [r for r in rows if r.state is RecipientState.SCHEDULED]
    assert (len(delivered), len(waiting)) == (5, 3)  # 60 a minute: a 5-second burst
    # Held back, not tried: no attempt counted or recorded, due in about a second.
    assert all(r.attempts == 0 and r.lease_owner is None for r in waiting)
    assert all(world.store.outbound_attempts(r.message.id) == [] for r in waiting)
    assert all(
        timedelta(0) < r.next_attempt_at - world.clock.now <= timedelta(seconds=2) for r in waiting
    )
    assert loop.figures.postponed == 3 and len(world.server.messages) == 5


async def test_sessions_come_from_the_pool_s_addresses_in_turn(world: World) -> None:
    shaped = SCHEDULE.model_copy(
        update={
            "pools": {"p": SourcePool(addresses=["127.0.0.42", "127.0.0.43"])},
            "destinations": {
                "far.test": DestinationLimits(connections=1, messages_per_connection=2, pool="p")
            },
        }
    )
    for n in range(4):
        world.submit(f"r{n}@far.test")
    loop = world.loop(settings=shaped)
    await world.round(loop)

    assert len(world.server.messages) == 4
    sessions = world.server.sessions
    assert [len(s.messages) for s in sessions] == [2, 2]  # two messages a session
    assert sorted(s.peer for s in sessions) == ["127.0.0.42", "127.0.0.43"]


async def test_a_forwarded_and_a_relayed_copy_leave_with_their_own_reverse_paths(
    world: World,
) -> None:
    """One message, one destination, two reverse paths (a forward's SRS address beside the
    envelope's): two transactions, each MAIL FROM its own."""
    body = b"From: ann@ours.test\r\nSubject: both\r\n\r\nhello\r\n"
    blob = world.blobs.put(body)
    ref = MessageRef(new_id(), blob.size, blob.sha256, blob.key)
    srs = "SRS0=abcd=2W=ours.test=ann@fwd.ours.test"
    envelope = Envelope("ann@ours.test", ("joe@far.test", "fwd@ours.test"), world.clock.now)
    remote = (
        RemoteRecipient("joe@far.test", TENANT),
        RemoteRecipient("kim@far.test", TENANT, envelope_recipient="fwd@ours.test", mail_from=srs),
    )
    world.store.commit_messages([SpoolRecord(ref, envelope, remote=remote)])

    assert await world.round(world.loop()) == 2

    by_sender = {m.mail_from: sorted(m.rcpt_tos) for m in world.server.messages}
    assert by_sender == {"ann@ours.test": ["joe@far.test"], srs: ["kim@far.test"]}


async def test_a_forwarded_copys_dsn_goes_to_the_original_sender_not_our_srs_address(
    world: World,
) -> None:
    """The reverse path of a forwarded copy is our SRS address: its DSN is made for the
    sender the SRS address stands for (a remote one here: out with a null sender)."""
    forwarder = Forwarder(Srs([b"k"], clock=lambda: world.clock.now.timestamp()), "out.ours.test")
    srs = forwarder.return_path("zed@far.test", "fwd@ours.test")
    blob = world.blobs.put(b"From: zed@far.test\r\nSubject: fwd\r\n\r\nhello\r\n")
    ref = MessageRef(new_id(), blob.size, blob.sha256, blob.key)
    envelope = Envelope("zed@far.test", ("fwd@ours.test",), world.clock.now)
    forward = RemoteRecipient(
        "nobody@far.test", TENANT, envelope_recipient="fwd@ours.test", mail_from=srs
    )
    world.store.commit_messages([SpoolRecord(ref, envelope, remote=(forward,))])

    def dsn_recipient(address: str) -> str:
        return forwarder.dsn_recipient(address, address.endswith("@ours.test"))

    await world.round(world.loop(dsn_recipient=dsn_recipient))

    assert world.store.list_queue() == []  # not a local row for the SRS address
    [dsn] = world.store.list_outbound(state=RecipientState.SCHEDULED)
    assert (dsn.mail_from, dsn.recipient) == ("", "zed@far.test")


async def test_a_long_deferral_warns_its_sender_once_with_a_delayed_dsn(world: World) -> None:
    """Still deferred past delay_warning_seconds: ONE "delayed" DSN (no NOTIFY: our default
    warns), in the trace's TransientFailure event; never a second, not after a restart."""
    warn_after = SCHEDULE.model_copy(update={"delay_warning_seconds": 3 * 3600})
    message_id = world.submit("never@far.test")
    quiet = world.submit("never@far.test", notify=("FAILURE",))  # asks for failures only
    await world.round(world.loop(settings=warn_after))  # queued an hour ago: no warning yet
    assert world.store.list_queue() == []

    world.clock.now = world.t0 + timedelta(hours=2, minutes=30)
    loop = world.loop(settings=warn_after)
    await world.round(loop)
    [row] = world.store.list_outbound(message_id=message_id)
    assert (row.state, row.delay_notified_at) == (RecipientState.DEFERRED, world.clock.now)
    [quiet_row] = world.store.list_outbound(message_id=quiet)
    assert quiet_row.delay_notified_at is None
    [warning] = world.store.list_queue()  # to the local sender's mailbox
    assert warning.recipient == "ann@ours.test" and loop.figures.delay_dsns == 1
    report = parse_report(world.blobs.get(warning.message.blob_key))
    assert isinstance(report, DeliveryReport)
    [reported] = report.recipients
    assert (reported.final_recipient, reported.action) == ("never@far.test", DsnAction.DELAYED)
    assert reported.status == "4.2.0"
    expiry = row.created_at + timedelta(days=5)  # a DSN's dates are to the second
    assert reported.will_retry_until == expiry.replace(microsecond=0)
    events = world.store.list_events(TenantScope(TENANT), limit=20)
    [told] = [e for e in events if e.detail and e.detail.get("delay_dsn")]
    assert (told.kind, told.message_id) == (RecordType.TRANSIENT_FAILURE, message_id)
    assert told.detail is not None
    assert told.detail["will_retry_until"] == expiry.isoformat()

    # Deferred again, by this loop and by a new incarnation: no second warning.
    for again in (loop, world.loop(settings=warn_after)):
        [row] = world.store.list_outbound(message_id=message_id)
        world.clock.now = row.next_attempt_at
        await world.round(again)
        assert again.figures.deferred >= 1
    assert len(world.store.list_queue()) == 1
    assert world.states(message_id) == {"never@far.test": RecipientState.DEFERRED}


async def test_no_delayed_dsn_when_the_warning_is_off(world: World) -> None:
    off = SCHEDULE.model_copy(update={"delay_warning_seconds": 0})
    message_id = world.submit("never@far.test", notify=("DELAY", "FAILURE"))
    world.clock.now = world.t0 + timedelta(days=1)
    loop = world.loop(settings=off)
    await world.round(loop)
    assert world.states(message_id) == {"never@far.test": RecipientState.DEFERRED}
    assert world.store.list_queue() == [] and loop.figures.delay_dsns == 0
