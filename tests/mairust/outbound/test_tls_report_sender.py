"""Sending a day's TLS reports: counts in a real store, ``_smtp._tls`` records served by a
real DNS server on loopback, https: reports POSTed to a real HTTPS host on 127.0.0.121 (a
certificate from the test's CA), mailto: ones committed through a real spool. Each
domain's report goes once (claimed first); a domain without a record is claimed with no
destinations; a DNS failure postpones the domain to the next run; an upload answered
with an error is reported as failed; a report to one of our own domains is queued locally."""

from __future__ import annotations

import email
import email.policy
import gzip
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mairust.auth.dns_resolver import CachingResolver
from mairust.config import Settings, TlsReportSettings
from mairust.model.queue import QueueState
from mairust.model.tls_reports import TlsResultCount, TlsResultKey
from mairust.outbound.tls_report_sender import (
    ReportSender,
    report_http_client,
    report_message,
    send_tls_reports,
)
from mairust.spool import Spool
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.support.dns_server import ZoneServer, name_type_selectors
from tests.support.policy_host import Page, PolicyHost
from tests.support.sqlite_template import migrate_for_test
from tests.support.tls_ca import LoopbackCa

DAY = date(2026, 11, 29)
NOW = datetime(2026, 11, 30, 1, 5, tzinfo=UTC)
HOST_ADDRESS = "127.0.0.121"
SETTINGS = TlsReportSettings(
    enabled=True,
    org_name="mx.ours.test",
    sender="tlsrpt@ours.test",
    allow_networks=["127.0.0.0/8"],
    post_timeout=5,
)
POLICY = ("version: STSv1", "mode: enforce", "mx: *.far.test", "max_age: 86400")


@dataclass
class World:
    stores: Stores
    zone: ZoneServer
    host: PolicyHost
    sender: ReportSender

    def counted(self, domain: str, successes: int = 1, **failure: str) -> None:
        counts = [TlsResultCount(TlsResultKey(DAY, domain, "sts", POLICY), successes)]
        if failure:
            key = TlsResultKey(DAY, domain, "sts", POLICY, (), **failure)
            counts.append(TlsResultCount(key, 1))
        self.stores.metadata.add_tls_results(counts)

    def zone_txt(self, domain: str, record: str) -> None:
        self.zone.records[f"_smtp._tls.{domain}"] = {"TXT": [record]}


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    settings = Settings(data_dir=tmp_path)
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    tenant = opened.metadata.create_tenant("ours")
    opened.metadata.add_domain("ours.test", tenant.id)
    opened.metadata.add_mailbox("tlsrpt@ours.test")
    yield opened
    opened.close()


@pytest.fixture
async def world(stores: Stores) -> AsyncIterator[World]:
    ca = LoopbackCa()
    records: dict[str, dict[str, Any]] = {"reports.collector.test": {"A": [HOST_ADDRESS]}}
    with (
        ZoneServer(records, servfail_names=["_smtp._tls.dnsfail.test"]) as zone,
        PolicyHost(HOST_ADDRESS, ca.server_context("reports.collector.test"), port=0) as host,
    ):
        resolver = CachingResolver(["127.0.0.1"], port=zone.port, timeout=1.0, cache_size=0)
        spool = Spool(stores.metadata, stores.blobs)
        await spool.start()
        http = report_http_client(SETTINGS, resolver, str(ca.ca_file))
        try:
            yield World(
                stores, zone, host, ReportSender(stores.metadata, spool, resolver, http, SETTINGS)
            )
        finally:
            await http.aclose()
            await spool.stop()


def test_the_report_message_has_rfc_8460_headers_and_parts() -> None:
    report = {"report-id": "20261129.far.test@mx.ours.test"}
    raw = report_message(DAY, "far.test", report, b"\x1f\x8bgz", ("tls@far.test",), SETTINGS)
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == (
        "Report Domain: far.test Submitter: mx.ours.test "
        "Report-ID: <20261129.far.test@mx.ours.test>"
    )
    assert (message["TLS-Report-Domain"], message["TLS-Report-Submitter"]) == (
        "far.test",
        "mx.ours.test",
    )
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "tlsrpt"
    text, attached = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert attached.get_content_type() == "application/tlsrpt+gzip"
    assert attached.get_filename() == "mx.ours.test!far.test!1795910400!1795996799.json.gz"
    assert attached.get_payload(decode=True) == b"\x1f\x8bgz"


def attached_report(raw: bytes) -> dict[str, Any]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    [part] = [p for p in message.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    report: dict[str, Any] = json.loads(gzip.decompress(payload))
    return report


async def test_each_domain_gets_its_report_once_by_mail_and_https(world: World) -> None:
    url = f"https://reports.collector.test:{world.host.port}/tlsrpt"
    world.zone_txt("far.test", f"v=TLSRPTv1; rua=mailto:tls@far.test,{url}")
    world.zone_txt("ours.test", "v=TLSRPTv1; rua=mailto:tlsrpt@ours.test")
    world.zone_txt("broken.test", f"v=TLSRPTv1; rua={url}?broken")
    world.host.pages[("reports.collector.test", "/tlsrpt")] = Page(b"", status=201)
    world.host.pages[("reports.collector.test", "/tlsrpt?broken")] = Page(b"", status=500)
    world.counted("far.test", 7, result_type="certificate-expired", receiving_mx="mx1.far.test")
    for domain in ("ours.test", "broken.test", "norecord.test", "dnsfail.test"):
        world.counted(domain)

    summary = await send_tls_reports(DAY, world.sender, NOW)

    assert summary.sent == {
        "far.test": ("mailto:tls@far.test", url),
        "ours.test": ("mailto:tlsrpt@ours.test",),
    }
    assert summary.failed == {"broken.test": (f"{url}?broken",)}
    assert (summary.without_record, summary.postponed) == (("norecord.test",), ("dnsfail.test",))
    # The mailed report: an outbound row to far.test's address, from our sender.
    [row] = world.stores.metadata.list_outbound()
    assert (row.recipient, row.mail_from) == ("tls@far.test", "tlsrpt@ours.test")
    mailed = attached_report(world.stores.blobs.get(row.message.blob_key))
    [posted] = [p for p in world.host.posts if p.path == "/tlsrpt"]
    assert posted.headers["Content-Type"] == "application/tlsrpt+gzip"
    assert json.loads(gzip.decompress(posted.body)) == mailed
    assert mailed["report-id"] == "20261129.far.test@mx.ours.test"
    [policy] = mailed["policies"]
    assert policy["summary"] == {
        "total-successful-session-count": 7,
        "total-failure-session-count": 1,
    }
    assert policy["failure-details"][0]["receiving-mx-hostname"] == "mx1.far.test"
    # Our own domain's report is delivered locally, like any mail to it.
    [local] = world.stores.metadata.list_queue(QueueState.QUEUED, 100)
    assert local.recipient == "tlsrpt@ours.test"
    assert attached_report(world.stores.blobs.get(local.message.blob_key))["policies"]

    # Run again (a restart, another process): only the postponed domain is tried, and
    # once DNS answers it is claimed.
    world.zone.servfail_names = name_type_selectors([])
    again = await send_tls_reports(DAY, world.sender, NOW)
    assert (again.sent, again.without_record, again.postponed) == ({}, ("dnsfail.test",), ())
    assert len(world.stores.metadata.list_outbound()) == 1
    assert len(world.host.posts) == 2
    claimed = world.stores.metadata.sent_tls_reports(DAY)
    assert [(r.policy_domain, r.destinations) for r in claimed] == [
        ("broken.test", (f"{url}?broken",)),
        ("dnsfail.test", ()),
        ("far.test", ("mailto:tls@far.test", url)),
        ("norecord.test", ()),
        ("ours.test", ("mailto:tlsrpt@ours.test",)),
    ]
    assert await send_tls_reports(DAY, world.sender, NOW) == type(again)(DAY)


async def test_the_address_guard_stands_between_us_and_a_private_report_host(
    world: World, stores: Stores
) -> None:
    url = f"https://reports.collector.test:{world.host.port}/tlsrpt"
    world.zone_txt("far.test", f"v=TLSRPTv1; rua={url}")
    world.counted("far.test")
    guarded = report_http_client(
        TlsReportSettings(enabled=True, org_name="o", sender="a@ours.test"),
        world.sender.resolver,
    )
    try:
        sender = ReportSender(
            stores.metadata, world.sender.spool, world.sender.resolver, guarded, SETTINGS
        )
        summary = await send_tls_reports(DAY, sender, NOW)
    finally:
        await guarded.aclose()
    assert summary.failed == {"far.test": (url,)} and world.host.posts == []
