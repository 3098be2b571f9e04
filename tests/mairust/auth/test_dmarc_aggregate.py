"""Received DMARC aggregate reports: OpenDMARC's samples as XML, zip and gzip, and hostile
input (entities, bombs, truncation, lies in the archive, not-a-report), each a ReportError
of its own kind, never another exception."""

from __future__ import annotations

import gzip
import io
import random
import re
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from mairust.auth import dmarc_aggregate
from mairust.auth.dmarc_aggregate import (
    ReportError,
    parse_aggregate_report,
    reports_in_message,
)
from mairust.model.dmarc_reports import AggregateReport
from tests.support.dmarc_samples import ENTITIES, EXTERNAL, MINIMAL

DATA = Path(__file__).resolve().parents[2] / "data" / "dmarc" / "aggregate"
GOOD = (DATA / "aggregate-good.com.xml").read_bytes()
BAD = (DATA / "aggregate-bad.com.xml").read_bytes()


def zipped(content: bytes, name: str = "rx.test!example.test!1!2.xml") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def kind_of(data: bytes) -> str:
    with pytest.raises(ReportError) as caught:
        parse_aggregate_report(data)
    return caught.value.kind


def test_opendmarc_good_report_parses_with_every_record_and_count() -> None:
    text = GOOD.decode()
    expected_total = sum(int(n) for n in re.findall(r"<count>(\d+)</count>", text))
    for data in (GOOD, gzip.compress(GOOD), zipped(GOOD)):
        report = parse_aggregate_report(data)
        assert report.metadata.org_name == "126.com"
        assert report.metadata.report_id == "aggr_report_example.com_20120518_126.com"
        assert report.metadata.begin.timestamp() == 1337270400  # "1337270400.0" in the file
        assert (report.policy.domain, report.policy.p, report.policy.sp) == (
            "example.com",
            "reject",
            "reject",
        )
        assert len(report.rows) == text.count("<record>") == 754
        assert report.messages == expected_total
        first = report.rows[0]
        assert (first.source_ip, first.count, first.disposition) == (
            "116.233.121.204",
            27,
            "reject",
        )
        assert [(r.domain, r.result) for r in first.spf_results] == [("example.com", "fail")]
        # A record naming two From domains (comma-separated) is kept, not refused.
        assert any("," in row.header_from for row in report.rows)


def test_a_minimal_namespaced_report_gives_typed_rows_and_pass_fail_counts() -> None:
    report = parse_aggregate_report(MINIMAL)
    assert report.policy.domain == "example.test"  # lower-cased
    assert (report.policy.adkim, report.policy.aspf, report.policy.pct) == ("r", "r", 100)
    dkim_pass, forwarded = report.rows
    assert dkim_pass.dkim_results[0].selector == "s1"
    assert dkim_pass.spf_results[0].scope == "mfrom"
    assert forwarded.reasons == ("forwarded",)
    assert (report.messages, report.passed, report.failed) == (5, 3, 2)


def test_opendmarc_bad_report_is_refused_as_ill_formed_xml() -> None:
    assert kind_of(BAD) == "bad_xml"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        pytest.param(ENTITIES, "dtd_refused", id="billion-laughs"),
        pytest.param(EXTERNAL, "dtd_refused", id="external-dtd"),
        pytest.param(gzip.compress(GOOD)[:-20], "bad_gzip", id="truncated-gzip"),
        pytest.param(b"\x1f\x8b" + b"garbage" * 10, "bad_gzip", id="not-gzip"),
        pytest.param(zipped(GOOD)[:200], "bad_archive", id="truncated-zip"),
        pytest.param(b"<html><body>hi</body></html>", "not_a_report", id="not-a-report"),
        pytest.param(b"Dear postmaster, ...", "bad_xml", id="plain-text"),
        pytest.param(b"", "bad_xml", id="empty"),
        pytest.param(
            b'<?xml version="1.0" encoding="bogus"?><feedback/>', "bad_xml", id="bogus-enc"
        ),
        pytest.param(b'<?xml version="1.0" encoding="utf-7"?><feedback/>', "bad_xml", id="utf-7"),
        pytest.param(MINIMAL.replace(b"<count>3", b"<count>-3"), "invalid", id="negative-count"),
        pytest.param(MINIMAL.replace(b"2001:db8::1", b"108r.1.2.3"), "invalid", id="bad-ip"),
        pytest.param(MINIMAL.replace(b"<p>quarantine", b"<p>maybe"), "invalid", id="bad-p"),
        pytest.param(MINIMAL.replace(b"<report_id>r-1</report_id>", b""), "invalid", id="no-id"),
        pytest.param(
            b"<feedback>" + b"<a>" * 100 + b"</a>" * 100 + b"</feedback>", "invalid", id="too-deep"
        ),
        pytest.param(
            MINIMAL.replace(b"rx.test</org_name>", b"x" * 5000 + b"</org_name>"),
            "invalid",
            id="over-long-text",
        ),
    ],
)
def test_hostile_or_broken_input_is_a_typed_error(data: bytes, kind: str) -> None:
    assert kind_of(data) == kind


def test_decompression_bombs_stop_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dmarc_aggregate, "MAX_XML_BYTES", 64 * 1024)
    bomb = b"<feedback>" + b" " * (1024 * 1024) + b"</feedback>"
    assert len(gzip.compress(bomb)) < 8 * 1024  # a 1 MiB XML in a few KiB
    assert kind_of(gzip.compress(bomb)) == "too_large"
    assert kind_of(zipped(bomb)) == "too_large"
    assert kind_of(bomb) == "too_large"


def test_a_zip_whose_header_lies_about_the_size_is_still_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dmarc_aggregate, "MAX_XML_BYTES", 64 * 1024)
    archive = bytearray(zipped(b"<feedback>" + b" " * 500_000 + b"</feedback>", "r.xml"))
    # The central directory's uncompressed size (offset 24 of its entry) claims 10 bytes.
    central = archive.rfind(b"PK\x01\x02")
    archive[central + 24 : central + 28] = (10).to_bytes(4, "little")
    assert kind_of(bytes(archive)) in {"too_large", "bad_archive"}


def test_a_zip_must_hold_exactly_one_report() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.xml", MINIMAL)
        archive.writestr("b.xml", MINIMAL)
    assert kind_of(buffer.getvalue()) == "bad_archive"


def test_an_oversized_attachment_is_refused_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dmarc_aggregate, "MAX_ATTACHMENT_BYTES", 1000)
    assert kind_of(gzip.compress(GOOD)) == "too_large"


def report_mail(*attachments: tuple[bytes, str, str, str]) -> bytes:
    message = EmailMessage()
    message["From"] = "noreply-dmarc@rx.test"
    message["To"] = "dmarc@example.test"
    message["Subject"] = "Report Domain: example.test Submitter: rx.test Report-ID: r-1"
    message.set_content("The report is attached.")
    for data, maintype, subtype, name in attachments:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def test_reports_in_a_message_are_found_by_type_or_name_and_errors_come_back_as_values() -> None:
    raw = report_mail(
        (gzip.compress(MINIMAL), "application", "gzip", "rx.test!example.test!1!2.xml.gz"),
        (zipped(MINIMAL), "application", "octet-stream", "report.zip"),
        (ENTITIES, "text", "xml", "evil.xml"),
        (b"%PDF-1.4", "application", "pdf", "invoice.pdf"),
    )
    found = reports_in_message(raw)
    assert [type(r) for r in found] == [AggregateReport, AggregateReport, ReportError]
    error = found[2]
    assert isinstance(error, ReportError) and error.kind == "dtd_refused"
    assert reports_in_message(b"Subject: hi\r\n\r\nno attachment\r\n") == []


def test_mangled_reports_give_a_report_or_a_report_error_and_nothing_else() -> None:
    randomness = random.Random(7489)
    originals = (MINIMAL, gzip.compress(MINIMAL), zipped(MINIMAL))
    kinds: set[str] = set()
    for n in range(600):
        data = bytearray(originals[n % 3])
        for _ in range(randomness.randint(1, 8)):
            spot = randomness.randrange(len(data))
            data[spot] = randomness.randrange(256)
        cut = bytes(data[: randomness.randint(1, len(data))]) if n % 5 == 0 else bytes(data)
        try:
            parse_aggregate_report(cut)
        except ReportError as error:
            kinds.add(error.kind)
    assert {"bad_xml", "bad_gzip", "bad_archive"} <= kinds
