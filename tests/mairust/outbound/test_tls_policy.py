"""Per-destination TLS through the SMTP sender, every peer real on loopback: a DNS server
with the domains' MX and ``_mta-sts`` records, an HTTPS policy host on 127.0.0.61 port 443
and four MXs — one offering STARTTLS with a certificate for its name from the test's CA
(127.0.0.62), one offering no STARTTLS (127.0.0.63), one with a certificate for another
name (127.0.0.64), one with an expired certificate (127.0.0.68). MTA-STS enforce defers
rather than send in clear, testing delivers and records (over unverified TLS after a bad
certificate), MX hosts outside the policy are skipped, the policy is fetched once and again
when its id changes, require_tls domains defer without TLS. Last, the same through the
delivery loop over a real store: the enforce domain's row deferred with its attempt, the
other delivered over TLS."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mairust.auth.dns_resolver import CachingResolver
from mairust.config import OutboundSettings, OutboundTlsSettings
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import AttemptResult, RecipientState, RemoteRecipient
from mairust.outbound.delivery import OutboundDeliveryLoop, RemoteReply
from mairust.outbound.session_cache import SessionCache
from mairust.outbound.smtp_sender import SmtpDestinationSender
from mairust.outbound.smtp_types import ClientSettings, Timeouts
from mairust.outbound.tls_policy import DestinationTlsPolicies, destination_tls_policies
from mairust.outbound.tls_reports import TlsReportLog
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.mairust.outbound.test_smtp_sender import item, outgoing, port_free_on
from tests.support.dns_server import ZoneServer
from tests.support.policy_host import PolicyHost
from tests.support.scripted_smtp import Script, ScriptedSmtpServer
from tests.support.sqlite_template import upgrade_to_head_for_test
from tests.support.tls_ca import LoopbackCa

# Its servers listen on fixed loopback addresses at port 443. Two of its tests on two xdist
# workers at once do not fail for it: PolicyHost waits for a held port (BIND_PATIENCE_SECONDS).
# The group keeps them on one worker where xdist's loadgroup works (not with pytest 9.2).
pytestmark = [pytest.mark.xdist_group("https443")]

POLICY_HOST = "127.0.0.61"
MX = {"good": "127.0.0.62", "plain": "127.0.0.63", "wrong": "127.0.0.64", "expired": "127.0.0.68"}
SETTINGS = ClientSettings(helo_name="out.ours.test", timeouts=Timeouts(connect=2, command=5))
# domain: (its MX hosts, its MTA-STS policy: mode and mx patterns, or None)
DOMAINS: dict[str, tuple[list[str], tuple[str, str] | None]] = {
    "enforce-plain.test": (["mx.plain.test"], ("enforce", "mx.plain.test")),
    "enforce-good.test": (["mx.good.test"], ("enforce", "*.good.test")),
    "enforce-wrong.test": (["mx.wrong.test"], ("enforce", "mx.wrong.test")),
    "enforce-expired.test": (["mx.expired.test"], ("enforce", "mx.expired.test")),
    "testing-plain.test": (["mx.plain.test"], ("testing", "mx.plain.test")),
    "testing-wrong.test": (["mx.wrong.test"], ("testing", "mx.wrong.test")),
    "skip.test": (["mx.plain.test", "mx.good.test"], ("enforce", "mx.good.test")),
    "nomatch.test": (["mx.plain.test"], ("enforce", "mx.good.test")),
    "cached.test": (["mx.good.test"], ("enforce", "*.good.test")),
    "kept.test": (["mx.good.test"], ("enforce", "mx.good.test")),
    "required.test": (["mx.plain.test"], None),
    "required-good.test": (["mx.good.test"], None),
    "plain.test": (["mx.plain.test"], None),
}
REQUIRE_TLS = ["required.test", "Required-Good.test."]


def policy_text(mode: str, mx: str) -> str:
    return f"version: STSv1\nmode: {mode}\nmx: {mx}\nmax_age: 86400\n"


@dataclass
class World:
    zone: ZoneServer
    host: PolicyHost
    ca: LoopbackCa
    resolver: CachingResolver
    port: int
    mxs: dict[str, ScriptedSmtpServer]

    def plans(self, reports: TlsReportLog) -> DestinationTlsPolicies:
        settings = OutboundTlsSettings(
            require_tls_domains=REQUIRE_TLS,
            ca_file=str(self.ca.ca_file),
            policy_allow_networks=["127.0.0.0/8"],
            policy_fetch_timeout=5,
        )
        return destination_tls_policies(settings, self.resolver, reports=reports)

    def sender(self, plans: DestinationTlsPolicies) -> SmtpDestinationSender:
        return SmtpDestinationSender(self.resolver, SETTINGS, port=self.port, tls_plan_for=plans)

    def received(self, mx: str, recipient: str) -> list[bool]:
        """For each session of ``mx`` that carried mail to ``recipient``: was it TLS?"""
        return [
            log.tls
            for log in self.mxs[mx].sessions
            if any(recipient in m.rcpt_tos for m in log.messages)
        ]


# One world a test: a module-wide one was set up again, while its first was still
# listening on port 443, when xdist ran the module's tests between other modules' (CI).
@pytest.fixture
def world() -> Iterator[World]:
    ca = LoopbackCa()
    records: dict[str, dict[str, Any]] = {
        f"mx.{name}.test": {"A": [address]} for name, address in MX.items()
    }
    for domain, (hosts, policy) in DOMAINS.items():
        records[domain] = {"MX": [(10 * (n + 1), host) for n, host in enumerate(hosts)]}
        if policy is not None:
            records[f"_mta-sts.{domain}"] = {"TXT": ["v=STSv1; id=one;"]}
            records[f"mta-sts.{domain}"] = {"A": [POLICY_HOST]}
    port = port_free_on(*MX.values())
    host_context = ca.server_context(*(f"mta-sts.{d}" for d in DOMAINS))
    with (
        ZoneServer(records) as zone,
        PolicyHost(POLICY_HOST, host_context) as host,
        ScriptedSmtpServer(
            Script(), address=MX["good"], port=port, tls_context=ca.server_context("mx.good.test")
        ) as good,
        ScriptedSmtpServer(Script(), address=MX["plain"], port=port) as plain,
        ScriptedSmtpServer(
            Script(), address=MX["wrong"], port=port, tls_context=ca.server_context("other.test")
        ) as wrong,
        ScriptedSmtpServer(
            Script(),
            address=MX["expired"],
            port=port,
            tls_context=ca.server_context("mx.expired.test", expired=True),
        ) as expired,
    ):
        for domain, (_, policy) in DOMAINS.items():
            if policy is not None:
                host.serve_policy(domain, policy_text(*policy))
        resolver = CachingResolver(["127.0.0.1"], port=zone.port, timeout=1.0, cache_size=0)
        mxs = {"good": good, "plain": plain, "wrong": wrong, "expired": expired}
        yield World(zone, host, ca, resolver, port, mxs)


async def send_one(world: World, reports: TlsReportLog, recipient: str) -> RemoteReply:
    plans = world.plans(reports)
    domain = recipient.rpartition("@")[2]
    replies = await world.sender(plans).send(domain, None, [outgoing(item(1, recipient))])
    return replies[1]


def failures(reports: TlsReportLog, domain: str) -> list[tuple[str, str | None]]:
    return [(f.result_type, f.mx_host) for f in reports.recent if f.policy_domain == domain]


async def test_enforce_with_an_mx_offering_no_starttls_defers_and_sends_nothing_in_clear(
    world: World,
) -> None:
    reports = TlsReportLog()
    reply = await send_one(world, reports, "ann@enforce-plain.test")
    assert (reply.code, reply.enhanced, reply.delivered) == (451, "4.7.4", False)
    assert "not sent in clear" in reply.text
    assert world.received("plain", "ann@enforce-plain.test") == []
    assert failures(reports, "enforce-plain.test") == [("starttls-not-supported", "mx.plain.test")]
    # The TLS report's row names the policy, the MX, its address and ours.
    [counted] = reports.drain()
    assert (counted.key.policy_type, counted.key.result_type, counted.count) == (
        "sts",
        "starttls-not-supported",
        1,
    )
    assert counted.key.policy_string == (
        "version: STSv1",
        "mode: enforce",
        "mx: mx.plain.test",
        "max_age: 86400",
    )
    assert counted.key.mx_hosts == ("mx.plain.test",)
    assert (counted.key.receiving_mx, counted.key.receiving_ip) == ("mx.plain.test", MX["plain"])
    assert counted.key.sending_ip == "127.0.0.1"


async def test_enforce_with_a_valid_certificate_delivers_over_tls(world: World) -> None:
    reports = TlsReportLog()
    reply = await send_one(world, reports, "bob@enforce-good.test")
    assert reply.delivered and reply.host == "mx.good.test"
    assert world.received("good", "bob@enforce-good.test") == [True]
    assert reports.summary("enforce-good.test") == {"successful-sessions": 1}


@pytest.mark.parametrize(
    ("mx", "result_type"),
    [("wrong", "certificate-host-mismatch"), ("expired", "certificate-expired")],
)
async def test_enforce_with_a_certificate_that_does_not_validate_defers(
    world: World, mx: str, result_type: str
) -> None:
    reports = TlsReportLog()
    reply = await send_one(world, reports, f"cy@enforce-{mx}.test")
    assert (reply.code, reply.enhanced) == (451, "4.7.5")
    assert world.received(mx, f"cy@enforce-{mx}.test") == []
    assert failures(reports, f"enforce-{mx}.test") == [(result_type, f"mx.{mx}.test")]


@pytest.mark.parametrize(
    ("domain", "mx", "result_type", "over_tls"),
    [
        # No STARTTLS: in clear, as without a policy.
        ("testing-plain.test", "plain", "starttls-not-supported", False),
        # A certificate for another name: unverified TLS, as without a policy.
        ("testing-wrong.test", "wrong", "certificate-host-mismatch", True),
    ],
)
async def test_testing_mode_delivers_as_without_a_policy_and_records_the_failure(
    world: World,
    caplog: pytest.LogCaptureFixture,
    domain: str,
    mx: str,
    result_type: str,
    over_tls: bool,
) -> None:
    reports = TlsReportLog()
    with caplog.at_level(logging.WARNING, logger="mairust.outbound.tls_policy"):
        reply = await send_one(world, reports, f"dee@{domain}")
    assert reply.delivered
    assert world.received(mx, f"dee@{domain}") == [over_tls]
    assert failures(reports, domain) == [(result_type, f"mx.{mx}.test")]
    assert f"{domain}: mta-sts testing (id one): mx.{mx}.test" in caplog.text
    # A session after a failure is the failure's, not a successful one too (RFC 8460).
    assert reports.summary(domain)["successful-sessions"] == 0


async def test_an_mx_outside_the_policy_is_skipped(world: World) -> None:
    reports = TlsReportLog()
    reply = await send_one(world, reports, "eve@skip.test")  # MX 10 is mx.plain.test
    assert reply.delivered and reply.host == "mx.good.test"
    assert world.received("plain", "eve@skip.test") == []
    assert world.received("good", "eve@skip.test") == [True]
    assert failures(reports, "skip.test") == [("validation-failure", "mx.plain.test")]
    assert reports.summary("skip.test")["successful-sessions"] == 1


async def test_no_mx_matching_the_policy_defers_and_connects_nowhere(world: World) -> None:
    sessions_before = len(world.mxs["plain"].sessions)
    reply = await send_one(world, TlsReportLog(), "fay@nomatch.test")
    assert (reply.code, reply.enhanced) == (451, "4.7.5")
    assert "no MX of nomatch.test matches the policy" in reply.text
    assert len(world.mxs["plain"].sessions) == sessions_before


async def test_the_policy_is_fetched_once_for_several_deliveries_and_again_for_a_new_id(
    world: World,
) -> None:
    plans = world.plans(TlsReportLog())
    sender = world.sender(plans)
    before = world.host.fetches_for("cached.test")
    for n in range(3):
        replies = await sender.send("cached.test", None, [outgoing(item(n, f"g{n}@cached.test"))])
        assert replies[n].delivered
    assert world.host.fetches_for("cached.test") - before == 1
    # The domain moves its mail elsewhere: a new policy under a new id.
    world.host.serve_policy("cached.test", policy_text("enforce", "mx.elsewhere.test"))
    replies = await sender.send("cached.test", None, [outgoing(item(5, "h@cached.test"))])
    assert replies[5].delivered  # same id: the cached policy still holds
    world.zone.records["_mta-sts.cached.test"] = {"TXT": ["v=STSv1; id=two;"]}
    replies = await sender.send("cached.test", None, [outgoing(item(6, "i@cached.test"))])
    assert (replies[6].code, replies[6].enhanced) == (451, "4.7.5")
    assert world.host.fetches_for("cached.test") - before == 2


async def test_kept_sessions_serve_the_same_policy_only(world: World) -> None:
    before = world.host.fetches_for("kept.test")
    cache = SessionCache(60.0, 100)
    sender = SmtpDestinationSender(
        world.resolver,
        SETTINGS,
        port=world.port,
        tls_plan_for=world.plans(TlsReportLog()),
        cache=cache,
    )
    try:
        for n in range(2):
            replies = await sender.send("kept.test", None, [outgoing(item(n, f"k{n}@kept.test"))])
            assert replies[n].delivered
        assert world.received("good", "k0@kept.test") == [True]
        [kept_session] = [
            s
            for s in world.mxs["good"].sessions
            if s.messages and "k0@kept.test" in s.messages[0].rcpt_tos
        ]
        assert len(kept_session.messages) == 2  # the second batch reused the first's session
        # A new policy id: the session kept under the old one is not used for it.
        world.zone.records["_mta-sts.kept.test"] = {"TXT": ["v=STSv1; id=two;"]}
        replies = await sender.send("kept.test", None, [outgoing(item(9, "k9@kept.test"))])
        assert replies[9].delivered and len(kept_session.messages) == 2
        assert world.received("good", "k9@kept.test") == [True]
        assert world.host.fetches_for("kept.test") - before == 2
    finally:
        await sender.aclose()


async def test_require_tls_with_an_mx_offering_no_starttls_defers(world: World) -> None:
    reports = TlsReportLog()
    reply = await send_one(world, reports, "jo@required.test")
    assert (reply.code, reply.enhanced) == (451, "4.7.4")
    assert world.received("plain", "jo@required.test") == []
    assert [(f.policy_type, f.result_type) for f in reports.recent] == [
        ("require-tls", "starttls-not-supported")
    ]


async def test_require_tls_with_a_valid_certificate_delivers_over_tls(world: World) -> None:
    reply = await send_one(world, TlsReportLog(), "kay@required-good.test")
    assert reply.delivered
    assert world.received("good", "kay@required-good.test") == [True]


async def test_a_domain_without_policy_or_requirement_goes_as_before(world: World) -> None:
    reports = TlsReportLog()
    reply = await send_one(world, reports, "lu@plain.test")
    assert reply.delivered
    assert world.received("plain", "lu@plain.test") == [False]
    assert list(reports.recent) == [] and world.host.fetches_for("plain.test") == 0


async def test_a_relay_destination_is_not_a_policy_domain(world: World) -> None:
    plans = world.plans(TlsReportLog())
    assert await plans("relay:[127.0.0.63]:25") is None


async def test_the_delivery_loop_defers_the_enforce_domain_and_delivers_the_other_over_tls(
    world: World, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    store = SqlMetadataStore(url)
    blobs = FileBlobStore(tmp_path / "blobs")
    try:
        body = b"From: ann@ours.test\r\nSubject: mta-sts\r\n\r\nhello\r\n"
        blob = blobs.put(body)
        ref = MessageRef(new_id(), blob.size, blob.sha256, blob.key)
        recipients = ("mo@enforce-plain.test", "ned@enforce-good.test")
        envelope = Envelope("ann@ours.test", recipients, datetime.now(UTC))
        remote = tuple(RemoteRecipient(r, "tenant-a") for r in recipients)
        store.commit_messages([SpoolRecord(ref, envelope, remote=remote)])
        reports = TlsReportLog()
        loop = OutboundDeliveryLoop(
            "node-a",
            store,
            blobs,
            world.sender(world.plans(reports)),
            OutboundSettings(retry_jitter=0),
            hostname="out.ours.test",
        )

        assert await loop.leased_round() == 2
        await loop.wait_idle()  # the sessions settled

        states = {r.recipient: r.state for r in store.list_outbound(message_id=ref.id)}
        assert states == {
            "mo@enforce-plain.test": RecipientState.DEFERRED,
            "ned@enforce-good.test": RecipientState.DELIVERED,
        }
        attempts = {a.recipient: a for a in store.outbound_attempts(ref.id)}
        deferred = attempts["mo@enforce-plain.test"]
        assert deferred.result is AttemptResult.DEFERRED
        assert deferred.reply.startswith("451 4.7.4") and "not sent in clear" in deferred.reply
        assert world.received("plain", "mo@enforce-plain.test") == []
        assert world.received("good", "ned@enforce-good.test") == [True]
        assert reports.summary("enforce-plain.test") == {
            "starttls-not-supported": 1,
            "successful-sessions": 0,
        }
    finally:
        store.close()
