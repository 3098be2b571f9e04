"""MTA-STS policies as a sender sees them, over a real loopback DNS server and a real
HTTPS policy host on 127.0.0.60 port 443 with a certificate from the test's CA: fetched
once and cached, refetched when the TXT id changes or max_age runs out, kept when the
record goes or DNS fails, and every way a fetch can fail reported, never raised."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mairust.auth.dns_resolver import CachingResolver
from mairust.net.address_guard import AddressPolicy
from mairust.net.host_resolver import record_resolver
from mairust.net.http_client import ClientLimits, SafeHttpClient
from mairust.outbound.mta_sts import MAX_POLICY_BYTES, PolicyMode
from mairust.outbound.mta_sts_policies import MtaStsPolicies
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.dns_server import ZoneServer, name_type_selectors
from tests.support.policy_host import Page, PolicyHost
from tests.support.sqlite_template import upgrade_to_head_for_test
from tests.support.tls_ca import LoopbackCa

# Its servers listen on fixed loopback addresses at port 443. Two of its tests on two xdist
# workers at once do not fail for it: PolicyHost waits for a held port (BIND_PATIENCE_SECONDS).
# The group keeps them on one worker where xdist's loadgroup works (not with pytest 9.2).
pytestmark = [pytest.mark.xdist_group("https443")]

HOST_ADDRESS = "127.0.0.60"
DOMAINS = (
    "a.test",
    "b.test",
    "c.test",
    "gone.test",
    "dnsfail.test",
    "many.test",
    "restart.test",
    "refresh.test",
)
BROKEN = ("notfound.test", "moved.test", "html.test", "garbage.test", "badcert.test")


def policy(mode: str = "enforce", mx: str = "*.example.test", max_age: int = 3600) -> str:
    return f"version: STSv1\nmode: {mode}\nmx: {mx}\nmax_age: {max_age}\n"


@dataclass
class World:
    zone: ZoneServer
    host: PolicyHost
    ca: LoopbackCa
    resolver: CachingResolver
    now: list[float] = field(default_factory=lambda: [1_000_000.0])
    failures: list[tuple[str, str, str]] = field(default_factory=list)

    def txt(self, domain: str, *records: str) -> None:
        self.zone.records[f"_mta-sts.{domain}"] = {"TXT": list(records)}

    def policies(
        self, *, allow: tuple[str, ...] = ("127.0.0.0/8",), store: SqlMetadataStore | None = None
    ) -> MtaStsPolicies:
        http = SafeHttpClient(
            AddressPolicy.allowing(allow),
            record_resolver(self.resolver),
            ClientLimits(max_redirects=0, max_response_bytes=MAX_POLICY_BYTES, total_timeout=5),
            ssl_context=self.ca.client_context(),
        )
        return MtaStsPolicies(
            self.resolver,
            http,
            clock=lambda: self.now[0],
            on_failure=lambda *failure: self.failures.append(failure),
            store=store,
        )


# One world a test: a module-wide one was set up again, while its first was still
# listening on port 443, when xdist ran the module's tests between other modules' (CI).
@pytest.fixture
def world() -> Iterator[World]:
    ca = LoopbackCa()
    records: dict[str, dict[str, Any]] = {}
    for domain in DOMAINS + BROKEN:
        records[f"mta-sts.{domain}"] = {"A": [HOST_ADDRESS]}
        records[f"_mta-sts.{domain}"] = {"TXT": ["v=STSv1; id=first;"]}
    records["_mta-sts.nohost.test"] = {"TXT": ["v=STSv1; id=first;"]}
    names = [f"mta-sts.{d}" for d in DOMAINS + BROKEN if d != "badcert.test"]
    with (
        ZoneServer(records, servfail_names=["_mta-sts.dnsfail.test"]) as zone,
        PolicyHost(HOST_ADDRESS, ca.server_context(*names)) as host,
    ):
        for domain in (*DOMAINS, "badcert.test"):
            host.serve_policy(domain, policy(mx=f"*.{domain}"))
        host.pages[("mta-sts.moved.test", "/.well-known/mta-sts.txt")] = Page(
            b"", status=301, headers={"Location": "https://mta-sts.a.test/.well-known/mta-sts.txt"}
        )
        host.serve_policy("html.test", policy(), content_type="text/html")
        host.serve_policy("garbage.test", "<html>it works</html>")
        resolver = CachingResolver(["127.0.0.1"], port=zone.port, timeout=1.0, cache_size=0)
        yield World(zone, host, ca, resolver)


@pytest.fixture
async def policies(world: World) -> AsyncIterator[MtaStsPolicies]:
    world.failures.clear()
    yield world.policies()


async def test_a_policy_is_fetched_once_and_served_from_the_cache(
    world: World, policies: MtaStsPolicies
) -> None:
    before = world.host.fetches_for("a.test")
    known = [await policies.policy_for("A.test.") for _ in range(3)]
    assert known[0] is not None and known[0] is known[1] is known[2]
    assert (known[0].policy_id, known[0].policy.mode) == ("first", PolicyMode.ENFORCE)
    assert known[0].policy.mx == ("*.a.test",)
    assert world.host.fetches_for("a.test") - before == 1 == policies.fetches
    assert world.failures == []


async def test_deliveries_at_the_same_time_share_one_fetch(
    world: World, policies: MtaStsPolicies
) -> None:
    before = world.host.fetches_for("many.test")
    known = await asyncio.gather(*(policies.policy_for("many.test") for _ in range(5)))
    assert len({id(k) for k in known}) == 1 and known[0] is not None
    assert world.host.fetches_for("many.test") - before == 1


async def test_a_new_txt_id_fetches_the_new_policy(world: World, policies: MtaStsPolicies) -> None:
    first = await policies.policy_for("b.test")
    world.host.serve_policy("b.test", policy(mode="testing", mx="mx.b.test"))
    same_id_again = await policies.policy_for("b.test")
    assert same_id_again is first and policies.fetches == 1
    world.txt("b.test", "v=STSv1; id=second;")
    second = await policies.policy_for("b.test")
    assert second is not None and first is not None
    assert (first.policy_id, first.policy.mode) == ("first", PolicyMode.ENFORCE)
    assert (second.policy_id, second.policy.mode, second.policy.mx) == (
        "second",
        PolicyMode.TESTING,
        ("mx.b.test",),
    )
    assert policies.fetches == 2


async def test_max_age_ends_the_cache(world: World, policies: MtaStsPolicies) -> None:
    first = await policies.policy_for("c.test")
    world.now[0] += 1799  # not yet in the refresh window (the last half of max_age)
    assert await policies.policy_for("c.test") is first
    world.now[0] += 1802
    again = await policies.policy_for("c.test")
    assert again is not None and again is not first and policies.fetches == 2


async def test_a_withdrawn_record_keeps_the_cached_policy_until_max_age(
    world: World, policies: MtaStsPolicies
) -> None:
    world.txt("gone.test", "v=STSv1; id=first;")
    known = await policies.policy_for("gone.test")
    world.zone.records["_mta-sts.gone.test"] = {"TXT": ["v=spf1 -all"]}
    assert await policies.policy_for("gone.test") is known is not None
    world.now[0] += 3601
    assert await policies.policy_for("gone.test") is None
    assert policies.fetches == 1


async def test_dns_failure_without_a_cache_means_no_policy(policies: MtaStsPolicies) -> None:
    assert await policies.policy_for("dnsfail.test") is None
    assert await policies.policy_for("nosuch.test") is None  # NXDOMAIN
    for not_a_domain in ("[127.0.0.1]", "relay:mx.a.test", "a..test", "localhost", "a.test/x"):
        assert await policies.policy_for(not_a_domain) is None
    assert policies.fetches == 0


async def test_dns_failure_keeps_the_cached_policy(world: World, policies: MtaStsPolicies) -> None:
    known = await policies.policy_for("a.test")
    world.zone.servfail_names = name_type_selectors(["_mta-sts.a.test"])
    try:
        assert await policies.policy_for("a.test") is known is not None
    finally:
        world.zone.servfail_names = name_type_selectors(["_mta-sts.dnsfail.test"])


async def test_a_policy_that_failed_is_not_fetched_again_before_the_retry_time(
    world: World, policies: MtaStsPolicies
) -> None:
    before = world.host.fetches_for("notfound.test")
    assert await policies.policy_for("notfound.test") is None
    world.now[0] += 299
    assert await policies.policy_for("notfound.test") is None
    assert world.host.fetches_for("notfound.test") - before == 1
    world.now[0] += 2
    assert await policies.policy_for("notfound.test") is None
    assert world.host.fetches_for("notfound.test") - before == 2


@pytest.mark.parametrize(
    ("domain", "result_type", "says"),
    [
        ("notfound.test", "sts-policy-fetch-error", "HTTP 404"),
        ("moved.test", "sts-policy-fetch-error", "redirects"),
        ("html.test", "sts-policy-invalid", "served as 'text/html'"),
        ("garbage.test", "sts-policy-invalid", "not a 'key: value' line"),
        ("badcert.test", "sts-webpki-invalid", "CERTIFICATE_VERIFY_FAILED"),
        ("nohost.test", "sts-policy-fetch-error", "mta-sts.nohost.test"),
    ],
)
async def test_a_policy_that_cannot_be_had_is_reported_and_means_no_policy(
    world: World, policies: MtaStsPolicies, domain: str, result_type: str, says: str
) -> None:
    assert await policies.policy_for(domain) is None
    [(failed_domain, kind, detail)] = world.failures
    assert (failed_domain, kind) == (domain, result_type)
    assert says in detail
    if domain == "moved.test":
        # The redirect's target was never asked for: the last request is the redirect's.
        assert world.host.requests[-1] == ("mta-sts.moved.test", "/.well-known/mta-sts.txt")


async def test_a_new_id_whose_policy_fails_keeps_the_cached_one(
    world: World, policies: MtaStsPolicies
) -> None:
    world.txt("notfound.test", "v=STSv1; id=first;")
    world.host.serve_policy("notfound.test", policy())
    try:
        known = await policies.policy_for("notfound.test")
        del world.host.pages[("mta-sts.notfound.test", "/.well-known/mta-sts.txt")]
        world.txt("notfound.test", "v=STSv1; id=second;")
        assert await policies.policy_for("notfound.test") is known is not None
        assert [kind for _, kind, _ in world.failures] == ["sts-policy-fetch-error"]
    finally:
        world.host.pages.pop(("mta-sts.notfound.test", "/.well-known/mta-sts.txt"), None)
        world.txt("notfound.test", "v=STSv1; id=first;")


async def test_the_address_guard_stands_between_us_and_a_private_policy_host(
    world: World,
) -> None:
    world.failures.clear()
    guarded = world.policies(allow=())
    assert await guarded.policy_for("a.test") is None
    [(_, kind, detail)] = world.failures
    assert kind == "sts-policy-fetch-error" and "loopback" in detail


async def test_a_stored_policy_survives_a_restart_even_with_its_record_hidden(
    world: World, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    store = SqlMetadataStore(url)
    try:
        world.host.serve_policy("restart.test", policy(mx="mx.restart.test"))
        before = world.host.fetches_for("restart.test")
        first = await world.policies(store=store).policy_for("restart.test")
        assert first is not None
        # A new process with the same store: the policy is known without a fetch...
        again = await world.policies(store=store).policy_for("restart.test")
        assert again is not None and (again.policy_id, again.policy) == ("first", first.policy)
        # ...and still applies when an attacker strips the TXT record (RFC 8461 §10.2).
        del world.zone.records["_mta-sts.restart.test"]
        hidden = await world.policies(store=store).policy_for("restart.test")
        assert hidden is not None and hidden.policy.mx == ("mx.restart.test",)
        assert world.host.fetches_for("restart.test") - before == 1
        world.now[0] += 3601  # past max_age: nothing holds any more
        assert await world.policies(store=store).policy_for("restart.test") is None
    finally:
        store.close()


async def test_a_policy_is_refreshed_before_it_expires_and_outlives_a_hidden_record(
    world: World, policies: MtaStsPolicies
) -> None:
    before = world.host.fetches_for("refresh.test")
    first = await policies.policy_for("refresh.test")
    assert first is not None and first.policy.mode is PolicyMode.ENFORCE
    world.host.serve_policy("refresh.test", policy(mx="mx.refresh.test", max_age=7200))
    world.now[0] += 1801  # within the last half of max_age (3600): a refresh starts
    assert await policies.policy_for("refresh.test") is first  # the delivery does not wait
    await policies.refreshes_done()
    assert world.host.fetches_for("refresh.test") - before == 2
    # Past the first one's max_age, with the TXT record hidden: the refreshed policy holds.
    world.zone.records["_mta-sts.refresh.test"] = {"TXT": []}
    world.now[0] += 1800
    refreshed = await policies.policy_for("refresh.test")
    assert refreshed is not None and refreshed.policy.mx == ("mx.refresh.test",)
    assert refreshed.expires == first.fetched_at + 1801 + 7200
    assert world.host.fetches_for("refresh.test") - before == 2 and world.failures == []


async def test_a_refresh_that_fails_keeps_the_policy_and_is_tried_again_later(
    world: World, policies: MtaStsPolicies
) -> None:
    first = await policies.policy_for("refresh.test")
    world.host.serve_policy("refresh.test", "", status=503)
    world.now[0] += 2000
    assert await policies.policy_for("refresh.test") is first
    await policies.refreshes_done()
    assert [kind for _, kind, _ in world.failures] == ["sts-policy-fetch-error"]
    world.now[0] += 100  # within retry_failed_after: no new attempt
    assert await policies.policy_for("refresh.test") is first
    await policies.refreshes_done()
    assert len(world.failures) == 1
    world.host.serve_policy("refresh.test", policy(mx="mx.refresh.test"))
    world.now[0] += 300  # retried, and this time it works
    assert await policies.policy_for("refresh.test") is first
    await policies.refreshes_done()
    later = await policies.policy_for("refresh.test")
    assert later is not None and later.policy.mx == ("mx.refresh.test",)
