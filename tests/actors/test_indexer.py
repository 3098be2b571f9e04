"""Indexer actor: entries left in the search backlog get indexed when search answers;
retention purges; with [dmarc_reports] enabled, the last period's DMARC reports go out once;
with [tls_reports] enabled, yesterday's TLS report goes out once."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import ray

from actors.indexer import IndexerActor
from mairust.auth.results import AuthResults, DmarcResult, DmarcWord
from mairust.config import (
    DmarcReportSettings,
    DnsSettings,
    HooksSettings,
    MailboxSettings,
    TlsReportSettings,
)
from mairust.model.ids import new_id
from mairust.model.mailbox import NewEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.plugins import HookCall
from mairust.model.scope import PLATFORM
from mairust.model.tls_reports import TlsResultCount, TlsResultKey
from mairust.outbound.dmarc_report_loop import last_period_end
from mairust.outbound.tls_report_loop import due_day
from tests.support.dns_server import ZoneServer
from tests.support.stored_entries import deliver


def test_backlog_drains_on_a_nudge(spawn, world, body, wait_until):
    alice = world.mailbox()
    ref = world.spool(body("numbat"), alice)
    mailbox = world.stores.metadata.find_mailbox(alice)
    assert mailbox is not None
    entry = world.stores.metadata.store_entry(
        NewEntry(mailbox.tenant_id, mailbox.id, ref.id, "numbat", "s@r.example", (), None, 1)
    )
    world.stores.metadata.add_to_search_backlog([entry.id])
    indexer = spawn(IndexerActor, world.settings)
    ray.get(indexer.drain_now.remote(), timeout=30)
    wait_until(
        lambda: ray.get(indexer.stats.remote(), timeout=30)["backlog"] == 0, what="backlog drained"
    )
    assert ray.get(indexer.stats.remote(), timeout=30)["indexed"] == 1
    hits = world.stores.search.search(PLATFORM, "numbat")
    assert [h.entry_id for h in hits] == [entry.id]


def test_the_retention_loop_purges_expired_junk_by_itself(spawn, world, wait_until):
    alice = world.stores.metadata.find_mailbox(world.mailbox())
    assert alice is not None
    old = datetime.now(UTC) - timedelta(days=40)
    expired = deliver(world.stores.metadata, alice, folder="Junk", received_at=old)
    kept = deliver(world.stores.metadata, alice, folder="Junk")
    settings = world.settings.model_copy(
        update={"mailbox": MailboxSettings(junk_days=30, expire_interval_seconds=0.5)}
    )
    indexer = spawn(IndexerActor, settings)
    wait_until(
        lambda: ray.get(indexer.stats.remote(), timeout=30)["expired"] == 1,
        what="the expired Junk entry purged",
    )
    left = world.stores.metadata.get_entries(PLATFORM, [expired.id, kept.id])
    assert [entry.id for entry in left] == [kept.id]
    report = ray.get(indexer.retention_loop.remote(), timeout=30)
    assert report is not None and report["restarts"] == 0


def test_the_retention_loop_forgets_old_plugin_calls(spawn, world, wait_until):
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    at = datetime.now(UTC)
    calls = [
        HookCall(new_id(now_ms - days * 86_400_000), at, "rcpt_to", "p", "enforce", "ok", "", 1.0)
        for days in (40, 35, 1)
    ]
    world.stores.metadata.record_hook_calls(calls)
    settings = world.settings.model_copy(
        update={
            "mailbox": MailboxSettings(expire_interval_seconds=0.5),
            "hooks": HooksSettings(call_log_days=30),
        }
    )
    indexer = spawn(IndexerActor, settings)
    wait_until(
        lambda: ray.get(indexer.stats.remote(), timeout=30)["calls_forgotten"] == 2,
        what="the two old plugin calls forgotten",
    )
    assert [c.id for c in world.stores.metadata.list_hook_calls("p")] == [calls[-1].id]


def test_no_retention_loop_when_it_is_turned_off(spawn, world):
    settings = world.settings.model_copy(
        update={"mailbox": MailboxSettings(expire_interval_seconds=0)}
    )
    indexer = spawn(IndexerActor, settings)
    assert ray.get(indexer.retention_loop.remote(), timeout=30) is None


def test_the_dmarc_report_loop_sends_the_last_periods_reports_once(spawn, world, wait_until):
    period_end = last_period_end(datetime.now(UTC), 3600)
    results = AuthResults(dmarc=DmarcResult(DmarcWord.PASS, "far.test", "none", True))
    envelope = Envelope(
        "x@far.test", ("u@far.test",), period_end - timedelta(minutes=5), client_ip="192.0.2.1"
    )
    # One in the last full period, one in the current: should the hour turn before the
    # actor starts, the period it then reports holds the second.
    now = replace(envelope, received_at=datetime.now(UTC))
    world.stores.metadata.commit_messages(
        [
            SpoolRecord(MessageRef(new_id(), 1, "0" * 64, "0" * 64), env, results.to_json())
            for env in (envelope, now)
        ]
    )
    zone = {"_dmarc.far.test": {"TXT": ["v=DMARC1; p=none; rua=mailto:dmarc@far.test"]}}
    with ZoneServer(zone) as dns:
        settings = world.settings.model_copy(
            update={
                "dns": DnsSettings(nameservers=["127.0.0.1"], port=dns.port, timeout=1.0),
                "dmarc_reports": DmarcReportSettings(
                    enabled=True,
                    org_name="mx.example",
                    sender="reports@mx.example",
                    interval_seconds=3600,
                ),
            }
        )
        spawn(IndexerActor, settings)
        wait_until(
            lambda: len(world.stores.metadata.list_outbound()) == 1,
            what="the period's DMARC report queued",
        )
    [row] = world.stores.metadata.list_outbound()
    assert (row.recipient, row.mail_from) == ("dmarc@far.test", "reports@mx.example")
    assert world.stores.metadata.claim_dmarc_period(period_end, datetime.now(UTC)) is False


def test_the_tls_report_loop_sends_yesterdays_report_once(spawn, world, wait_until):
    due = due_day(datetime.now(UTC), 0)
    # The due day's counts, and today's: should the day turn before the actor starts, the
    # day it then reports has counts too.
    world.stores.metadata.add_tls_results(
        [TlsResultCount(TlsResultKey(d, "far.test", "sts"), 3) for d in (due, due + timedelta(1))]
    )
    zone = {"_smtp._tls.far.test": {"TXT": ["v=TLSRPTv1; rua=mailto:tls@far.test"]}}
    with ZoneServer(zone) as dns:
        settings = world.settings.model_copy(
            update={
                "dns": DnsSettings(nameservers=["127.0.0.1"], port=dns.port, timeout=1.0),
                "tls_reports": TlsReportSettings(
                    enabled=True, org_name="mx.example", sender="tlsrpt@mx.example", send_hour=0
                ),
            }
        )
        spawn(IndexerActor, settings)
        wait_until(
            lambda: len(world.stores.metadata.list_outbound()) == 1,
            what="yesterday's TLS report queued",
        )
    [row] = world.stores.metadata.list_outbound()
    assert (row.recipient, row.mail_from) == ("tls@far.test", "tlsrpt@mx.example")
    [sent] = [
        r for d in (due, due + timedelta(1)) for r in world.stores.metadata.sent_tls_reports(d)
    ]
    assert (sent.policy_domain, sent.destinations) == ("far.test", ("mailto:tls@far.test",))
