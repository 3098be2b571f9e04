"""The dnsbl plugin through the SDK's test helper (given the envelope only, its manifest's
scope, at ``connect``) against a real DNS server on loopback serving two test blocklists:
a listed IPv4 client is refused naming the list, an unlisted one goes on; IPv6 clients are
asked by nibble; answer codes select what counts as a listing; a list that times out or
fails is no listing, within the configured timeout."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mairust.plugin_sdk import Envelope, HookResponse, VerdictKind, run_plugin
from plugins.dnsbl.plugin import plugin as dnsbl
from plugins.dnsbl.plugin import query_prefix
from tests.support.dns_server import ZoneServer

HERE = Path(__file__).resolve().parents[2] / "plugins" / "dnsbl"
V6 = "2001:db8::1"
V6_NIBBLES = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
RECORDS = {
    # zen.test lists 192.0.2.99 (a spam source) and the IPv6 client.
    "99.2.0.192.zen.test": {"A": ["127.0.0.2"]},
    f"{V6_NIBBLES}.zen.test": {"A": ["127.0.0.4"]},
    # bl.test lists 198.51.100.7, with a code only some configurations count.
    "7.100.51.198.bl.test": {"A": ["127.0.0.10"]},
    # An error answer (a refused query) is no listing.
    "5.2.0.192.zen.test": {"A": ["127.255.255.254"]},
}


@pytest.fixture(scope="module")
def dns() -> Iterator[ZoneServer]:
    with ZoneServer(
        RECORDS,
        timeout_names=["13.2.0.192.slow.test"],
        servfail_names=["13.2.0.192.broken.test"],
    ) as server:
        yield server


def connect(client: str, dns: ZoneServer, **config: Any) -> HookResponse:
    envelope = Envelope(
        mail_from="",
        rcpt_tos=(),
        received_at=datetime.now(UTC),
        helo="client.example",
        client_ip=client,
    )
    settings = {
        "zones": ["zen.test", "bl.test"],
        "resolver": {"address": "127.0.0.1", "port": dns.port},
        "timeout_ms": 500,
        **config,
    }
    return run_plugin(dnsbl, "connect", envelope=envelope, manifest=HERE, config=settings)


def test_a_listed_client_is_refused_naming_the_list(dns: ZoneServer) -> None:
    answer = connect("192.0.2.99", dns)
    assert answer.verdict is VerdictKind.REJECT
    assert answer.reply == "554 5.7.1 client 192.0.2.99 is listed in zen.test"
    assert dns.queries_for("99.2.0.192.zen.test", "A")
    assert dns.queries_for("99.2.0.192.bl.test", "A")  # every list asked, at once


def test_an_unlisted_client_goes_on(dns: ZoneServer) -> None:
    assert connect("192.0.2.1", dns).verdict is VerdictKind.CONTINUE
    # 127.255.255.x is a list refusing the query, not a listing.
    assert connect("192.0.2.5", dns).verdict is VerdictKind.CONTINUE


def test_an_ipv6_client_is_asked_by_nibble(dns: ZoneServer) -> None:
    assert query_prefix(V6) == V6_NIBBLES
    answer = connect(V6, dns)
    assert answer.reply == f"554 5.7.1 client {V6} is listed in zen.test"
    # A v4 client on a dual-stack socket is asked as v4.
    assert query_prefix("::ffff:192.0.2.99") == "99.2.0.192"


def test_answer_codes_select_the_listings(dns: ZoneServer) -> None:
    any_code = connect("198.51.100.7", dns)
    assert any_code.reply == "554 5.7.1 client 198.51.100.7 is listed in bl.test"
    other = connect("198.51.100.7", dns, zones=[{"zone": "bl.test", "codes": ["127.0.0.2"]}])
    assert other.verdict is VerdictKind.CONTINUE
    its_own = connect("198.51.100.7", dns, zones=[{"zone": "bl.test", "codes": ["127.0.0.10"]}])
    assert its_own.verdict is VerdictKind.REJECT


def test_a_list_that_times_out_or_fails_is_no_listing(
    dns: ZoneServer, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    answer = connect("192.0.2.13", dns, zones=["slow.test", "broken.test", "zen.test"])
    took = time.monotonic() - started
    assert answer.verdict is VerdictKind.CONTINUE
    assert took < 2.0, f"the lookups took {took:.2f} s with a 0.5 s timeout"
    assert dns.queries_for("13.2.0.192.slow.test")  # it was asked, and never answered
    logged = caplog.text
    assert "13.2.0.192.slow.test" in logged and "13.2.0.192.broken.test" in logged


def test_a_failing_list_does_not_hide_a_listing_in_another(dns: ZoneServer) -> None:
    answer = connect("192.0.2.99", dns, zones=["slow.test", "zen.test"])
    assert answer.reply == "554 5.7.1 client 192.0.2.99 is listed in zen.test"


def test_a_client_address_that_is_no_ip_is_not_looked_up(dns: ZoneServer) -> None:
    before = len(dns.queries)
    assert connect("unknown", dns).verdict is VerdictKind.CONTINUE
    assert len(dns.queries) == before
