"""Stage ``dmarc_reports`` in the pipeline over real embedded stores: a report mailed to a
tenant's address about its own domain is kept once (the mail delivered all the same), one
about another tenant's domain or a hostile attachment is only delivered, and a report
store that cannot take it defers the row until it can."""

from __future__ import annotations

import gzip
from email.message import EmailMessage

from mairust.errors import StorageUnavailable
from mairust.model.parsing import parse_message
from mairust.model.queue import QueueState
from mairust.pipeline.runner import PipelineRunner
from mairust.pipeline.stages.dmarc_reports import may_hold_report
from mairust.storage.stores import Stores
from tests.support.dmarc_samples import ENTITIES, MINIMAL


def report_mail(attachment: bytes, subtype: str = "gzip", name: str = "r.xml.gz") -> bytes:
    message = EmailMessage()
    message["From"] = "noreply-dmarc@rx.test"
    message["To"] = "alice@example.test"
    message["Subject"] = "Report Domain: example.test Submitter: rx.test Report-ID: r-1"
    message.set_content("The report is attached.")
    message.add_attachment(attachment, maintype="application", subtype=subtype, filename=name)
    return message.as_bytes()


def run(stores, settings):
    items = stores.metadata.lease_batch("w1", 10, 60)
    return items, PipelineRunner(stores, settings.queue).process(items, "w1")


def test_a_report_for_the_recipients_own_domain_is_kept_once_and_delivered(
    stores, settings, spool_message
):
    report = gzip.compress(MINIMAL)  # about example.test
    ref = spool_message(report_mail(report), "alice@example.test", "bob@example.test")
    items, outcome = run(stores, settings)
    assert (outcome.delivered, outcome.deferred, outcome.failed) == (2, 0, 0)
    PipelineRunner(stores, settings.queue).process(items, "w1")  # a lost ack: again
    [kept] = stores.metadata.list_dmarc_reports("example.test")
    assert (kept.message_id, kept.report.metadata.report_id) == (ref.id, "r-1")
    assert (kept.report.passed, kept.report.failed) == (3, 2)
    assert kept.tenant_id == stores.metadata.get_domain("example.test").tenant_id


def test_a_report_about_another_tenants_domain_or_a_hostile_one_is_only_delivered(
    stores, settings, spool_message
):
    other = stores.metadata.create_tenant("other")
    stores.metadata.add_domain("other.test", other.id)
    about_other = gzip.compress(MINIMAL.replace(b"Example.TEST", b"other.test"))
    spool_message(report_mail(about_other), "alice@example.test")
    spool_message(report_mail(ENTITIES, "xml", "evil.xml"), "alice@example.test")
    spool_message(report_mail(b"\x1f\x8b truncated"), "bob@example.test")
    _, outcome = run(stores, settings)
    assert (outcome.delivered, outcome.deferred, outcome.failed) == (3, 0, 0)
    assert stores.metadata.list_dmarc_reports("other.test") == []
    assert stores.metadata.list_dmarc_reports("example.test") == []


class ReportsDown:
    def __init__(self, real):
        self.real = real

    def add_dmarc_report(self, report):
        raise StorageUnavailable("dmarc_reports is down")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_report_store_outage_defers_the_row_and_the_retry_keeps_it(
    stores, settings, spool_message
):
    spool_message(report_mail(gzip.compress(MINIMAL)), "alice@example.test")
    flaky = Stores(metadata=ReportsDown(stores.metadata), blobs=stores.blobs, search=stores.search)
    items = stores.metadata.lease_batch("w1", 10, 60)
    outcome = PipelineRunner(flaky, settings.queue).process(items, "w1")
    assert (outcome.delivered, outcome.deferred) == (0, 1)
    [row] = stores.metadata.list_queue(QueueState.QUEUED)
    assert "dmarc_reports" in (row.last_error or "") and "is down" in row.last_error
    assert stores.metadata.list_dmarc_reports("example.test") == []
    # The row runs again (as the dispatcher would lease it when due): entry once, report kept.
    outcome = PipelineRunner(stores, settings.queue).process(items, "w1")
    assert outcome.delivered == 1
    assert len(stores.metadata.list_dmarc_reports("example.test")) == 1


def test_only_report_like_parts_are_opened():
    assert may_hold_report(parse_message(report_mail(b"x")))
    assert may_hold_report(parse_message(report_mail(b"x", "zip", "r.zip")))
    plain = b"Content-Type: application/gzip\r\nSubject: r\r\n\r\nH4sI\r\n"
    assert may_hold_report(parse_message(plain))
    assert not may_hold_report(parse_message(b"Subject: hi\r\n\r\nhello\r\n"))
    assert not may_hold_report(parse_message(report_mail(b"%PDF", "pdf", "invoice.pdf")))
