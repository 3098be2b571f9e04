"""TLS-RPT end to end without Ray: a real delivery produces the counts, and the next day's
report goes out by mail and by https.

far.test publishes (on the loopback DNS server) two MX hosts, an MTA-STS ``enforce``
policy served by an HTTPS policy host on 127.0.0.122 port 443, and a ``_smtp._tls``
record naming a mailto: and an https: rua. Its first MX (127.0.0.125) offers no STARTTLS,
its second (127.0.0.126) a valid certificate from the test's CA: the message is
delivered over TLS to the second, and the failure at the first is counted. Two delivery
loops' logs flush into one real store; the report loop, on an injected clock the next
day, sends the day's report once: an outbound row with the RFC 8460 §5.3 message to the
mailto: address, and a POST of ``application/tlsrpt+gzip`` to the https: receiver
(127.0.0.124, another certificate from the CA) carrying the same JSON report."""

from __future__ import annotations

import email
import email.policy
import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from mairust.auth.dns_resolver import CachingResolver
from mairust.config import OutboundTlsSettings, Settings, TlsReportSettings
from mairust.outbound.smtp_sender import SmtpDestinationSender
from mairust.outbound.smtp_types import ClientSettings, Timeouts
from mairust.outbound.tls_policy import destination_tls_policies
from mairust.outbound.tls_report_loop import TlsReportLoop
from mairust.outbound.tls_report_sender import ReportSender, report_http_client
from mairust.outbound.tls_reports import TlsReportLog
from mairust.spool import Spool
from mairust.storage.factory import migrate, open_stores
from tests.mairust.outbound.test_smtp_sender import item, outgoing, port_free_on
from tests.support.dns_server import ZoneServer
from tests.support.policy_host import Page, PolicyHost
from tests.support.scripted_smtp import Script, ScriptedSmtpServer
from tests.support.tls_ca import LoopbackCa

POLICY_HOST, REPORT_HOST = "127.0.0.122", "127.0.0.124"
PLAIN_MX, GOOD_MX = "127.0.0.125", "127.0.0.126"
DAY = date(2026, 11, 29)
DELIVERED_AT = datetime(2026, 11, 29, 15, tzinfo=UTC).timestamp()
POLICY = "version: STSv1\nmode: enforce\nmx: *.far.test\nmax_age: 86400\n"


async def test_a_days_tls_results_reach_the_domains_ruas_once(tmp_path: Path) -> None:
    ca = LoopbackCa()
    port = port_free_on(PLAIN_MX, GOOD_MX)
    records: dict[str, dict[str, Any]] = {
        "far.test": {"MX": [(10, "mx1.far.test"), (20, "mx2.far.test")]},
        "mx1.far.test": {"A": [PLAIN_MX]},
        "mx2.far.test": {"A": [GOOD_MX]},
        "_mta-sts.far.test": {"TXT": ["v=STSv1; id=2026;"]},
        "mta-sts.far.test": {"A": [POLICY_HOST]},
        "reports.collector.test": {"A": [REPORT_HOST]},
    }
    settings = Settings(data_dir=tmp_path)
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    reports_on = TlsReportSettings(
        enabled=True,
        org_name="mx.ours.test",
        sender="tlsrpt@ours.test",
        allow_networks=["127.0.0.0/8"],
        post_timeout=5,
    )
    with (
        ZoneServer(records) as zone,
        PolicyHost(POLICY_HOST, ca.server_context("mta-sts.far.test")) as policy_host,
        PolicyHost(REPORT_HOST, ca.server_context("reports.collector.test"), port=0) as receiver,
        ScriptedSmtpServer(Script(), address=PLAIN_MX, port=port),
        ScriptedSmtpServer(
            Script(), address=GOOD_MX, port=port, tls_context=ca.server_context("mx2.far.test")
        ) as good,
    ):
        url = f"https://reports.collector.test:{receiver.port}/v1/tlsrpt"
        zone.records["_smtp._tls.far.test"] = {
            "TXT": [f"v=TLSRPTv1; rua=mailto:tls-reports@far.test,{url}"]
        }
        policy_host.serve_policy("far.test", POLICY)
        receiver.pages[("reports.collector.test", "/v1/tlsrpt")] = Page(b"", status=202)
        resolver = CachingResolver(["127.0.0.1"], port=zone.port, timeout=1.0, cache_size=0)
        tls = OutboundTlsSettings(
            ca_file=str(ca.ca_file), policy_allow_networks=["127.0.0.0/8"], policy_fetch_timeout=5
        )
        client = ClientSettings(helo_name="out.ours.test", timeouts=Timeouts(connect=2, command=5))
        # Two delivery loops, each with its own log, flushing into the one store.
        for n in (1, 2):
            log = TlsReportLog(clock=lambda: DELIVERED_AT)
            plans = destination_tls_policies(tls, resolver, reports=log)
            sender = SmtpDestinationSender(resolver, client, port=port, tls_plan_for=plans)
            try:
                replies = await sender.send("far.test", None, [outgoing(item(n, f"u{n}@far.test"))])
            finally:
                await sender.aclose()
                await plans.aclose()
            assert replies[n].delivered and replies[n].host == "mx2.far.test"
            await log.flush(stores.metadata)
        assert [s.tls for s in good.sessions] == [True, True]

        spool = Spool(stores.metadata, stores.blobs)
        await spool.start()
        http = report_http_client(reports_on, resolver, str(ca.ca_file))
        try:
            sender_of_reports = ReportSender(stores.metadata, spool, resolver, http, reports_on)
            loop = TlsReportLoop(
                sender_of_reports, clock=lambda: datetime(2026, 11, 30, 3, tzinfo=UTC)
            )
            summary = await loop.run_once()
            assert summary.day == DAY
            assert summary.sent == {"far.test": ("mailto:tls-reports@far.test", url)}
            assert (await loop.run_once()).sent == {}  # once
        finally:
            await http.aclose()
            await spool.stop()

    [row] = stores.metadata.list_outbound()
    assert (row.recipient, row.mail_from) == ("tls-reports@far.test", "tlsrpt@ours.test")
    message = email.message_from_bytes(
        stores.blobs.get(row.message.blob_key), policy=email.policy.default
    )
    assert message["TLS-Report-Domain"] == "far.test"
    assert message["TLS-Report-Submitter"] == "mx.ours.test"
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "tlsrpt"
    [part] = [p for p in message.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    mailed = json.loads(gzip.decompress(payload))
    [post] = receiver.posts
    assert (post.path, post.headers["Content-Type"]) == ("/v1/tlsrpt", "application/tlsrpt+gzip")
    assert json.loads(gzip.decompress(post.body)) == mailed
    assert mailed["date-range"] == {
        "start-datetime": "2026-11-29T00:00:00Z",
        "end-datetime": "2026-11-29T23:59:59Z",
    }
    assert (mailed["organization-name"], mailed["contact-info"]) == (
        "mx.ours.test",
        "tlsrpt@ours.test",
    )
    assert mailed["policies"] == [
        {
            "policy": {
                "policy-type": "sts",
                "policy-string": POLICY.strip().split("\n"),
                "policy-domain": "far.test",
                "mx-host": ["*.far.test"],
            },
            "summary": {"total-successful-session-count": 2, "total-failure-session-count": 2},
            "failure-details": [
                {
                    "result-type": "starttls-not-supported",
                    "sending-mta-ip": "127.0.0.1",
                    "receiving-mx-hostname": "mx1.far.test",
                    "receiving-ip": PLAIN_MX,
                    "failed-session-count": 2,
                }
            ],
        }
    ]
    stores.close()
