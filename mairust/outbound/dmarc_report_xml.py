"""The aggregate reports we send, as data then XML (RFC 7489 §7.2, appendix C); pure.

``report_rows`` turns the stored auth results of the mail received in a period
(:class:`~mairust.model.dmarc_reports.InboundAuth`) into report rows by author (From)
domain: one row per (source IP, evaluated result, identifiers, auth results) with how
many messages had them. Only messages DMARC was evaluated for count (a ``pass`` or a
``fail``): ``none`` means the domain publishes no policy, and a ``temperror`` or
``permerror`` says nothing a domain owner could act on. The disposition is the one we
applied: ``reject`` for mail refused at DATA for DMARC (its Rejection event kept the
results), ``quarantine`` for mail that went to the Quarantine folder, else ``none``.

``report_xml`` writes a report as appendix C's XML (what our own parser reads back).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable

from mairust.auth.results import AuthResults, DmarcWord
from mairust.model.dmarc_reports import AggregateReport, AuthDomainResult, InboundAuth, ReportRow

QUARANTINE_FOLDER = "Quarantine"
_EVALUATED = (DmarcWord.PASS, DmarcWord.FAIL)

_RowKey = tuple[
    str, str, str, str, str, str, tuple[AuthDomainResult, ...], tuple[AuthDomainResult, ...]
]


def report_rows(messages: Iterable[InboundAuth]) -> dict[str, list[ReportRow]]:
    """Rows by author domain (lower case), each list in a stable order."""
    counts: dict[str, Counter[_RowKey]] = {}
    for message in messages:
        key = _row_key(message)
        if key is not None:
            counts.setdefault(key[1], Counter())[key] += 1
    return {
        domain: [_row(key, count) for key, count in sorted(counted.items())]
        for domain, counted in counts.items()
    }


def _row_key(message: InboundAuth) -> _RowKey | None:
    try:
        results = AuthResults.from_json(message.auth_results)
    except (KeyError, TypeError, ValueError):  # a row written by another version: skip it
        return None
    dmarc = results.dmarc
    if dmarc is None or dmarc.result not in _EVALUATED or not dmarc.from_domain:
        return None
    failed = dmarc.result is DmarcWord.FAIL
    disposition = "none"
    if failed and message.refused:
        disposition = "reject"
    elif failed and message.folder == QUARANTINE_FOLDER:
        disposition = "quarantine"
    spf = results.spf
    spf_results = (
        ()
        if spf is None
        else (
            AuthDomainResult(
                spf.domain,
                spf.result.value,
                scope="mfrom" if spf.identity == "mailfrom" else "helo",
            ),
        )
    )
    dkim_results = tuple(
        AuthDomainResult(d.domain, d.result.value, selector=d.selector)
        for d in results.dkim
        if d.domain
    )
    return (
        message.client_ip,
        dmarc.from_domain.lower(),
        disposition,
        "pass" if dmarc.dkim_aligned else "fail",
        "pass" if dmarc.spf_aligned else "fail",
        spf.domain if spf is not None and spf.identity == "mailfrom" else "",
        dkim_results,
        spf_results,
    )


def _row(key: _RowKey, count: int) -> ReportRow:
    source_ip, header_from, disposition, dkim, spf, envelope_from, dkim_results, spf_results = key
    return ReportRow(
        source_ip=source_ip,
        count=count,
        disposition=disposition,
        dkim=dkim,
        spf=spf,
        header_from=header_from,
        envelope_from=envelope_from,
        dkim_results=dkim_results,
        spf_results=spf_results,
    )


def report_xml(report: AggregateReport) -> bytes:
    """``report`` as appendix C's XML, UTF-8 with a declaration."""
    root = ET.Element("feedback")
    _text(root, "version", "1.0")
    meta = ET.SubElement(root, "report_metadata")
    _text(meta, "org_name", report.metadata.org_name)
    _text(meta, "email", report.metadata.email)
    if report.metadata.extra_contact_info:
        _text(meta, "extra_contact_info", report.metadata.extra_contact_info)
    _text(meta, "report_id", report.metadata.report_id)
    dates = ET.SubElement(meta, "date_range")
    _text(dates, "begin", str(int(report.metadata.begin.timestamp())))
    _text(dates, "end", str(int(report.metadata.end.timestamp())))
    policy = ET.SubElement(root, "policy_published")
    _text(policy, "domain", report.policy.domain)
    _text(policy, "adkim", report.policy.adkim)
    _text(policy, "aspf", report.policy.aspf)
    _text(policy, "p", report.policy.p)
    _text(policy, "sp", report.policy.sp or report.policy.p)
    _text(policy, "pct", str(report.policy.pct))
    for row in report.rows:
        _record(ET.SubElement(root, "record"), row)
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


def _record(record: ET.Element, row: ReportRow) -> None:
    fields = ET.SubElement(record, "row")
    _text(fields, "source_ip", row.source_ip)
    _text(fields, "count", str(row.count))
    evaluated = ET.SubElement(fields, "policy_evaluated")
    _text(evaluated, "disposition", row.disposition)
    _text(evaluated, "dkim", row.dkim)
    _text(evaluated, "spf", row.spf)
    identifiers = ET.SubElement(record, "identifiers")
    if row.envelope_from:
        _text(identifiers, "envelope_from", row.envelope_from)
    _text(identifiers, "header_from", row.header_from)
    auth = ET.SubElement(record, "auth_results")
    for dkim in row.dkim_results:
        node = ET.SubElement(auth, "dkim")
        _text(node, "domain", dkim.domain)
        if dkim.selector:
            _text(node, "selector", dkim.selector)
        _text(node, "result", dkim.result)
    for spf in row.spf_results:
        node = ET.SubElement(auth, "spf")
        _text(node, "domain", spf.domain)
        _text(node, "scope", spf.scope or "mfrom")
        _text(node, "result", spf.result)


def _text(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(parent, tag).text = value
