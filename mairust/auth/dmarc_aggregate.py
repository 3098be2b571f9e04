"""Reading received DMARC aggregate reports (RFC 7489 §7.2, appendix C): hostile input.

A report comes as a mail attachment: zip, gzip or plain XML. ``parse_aggregate_report``
unpacks it within size limits (a decompression bomb stops at ``MAX_XML_BYTES``, whatever
the archive claims), parses the XML with expat with every DTD refused (so no entity, no
"billion laughs", no external fetch), checks the appendix C structure and returns an
:class:`~mairust.model.dmarc_reports.AggregateReport`. Whatever is wrong with the input,
the one exception it raises is :class:`ReportError`, whose ``kind`` says what.
``reports_in_message`` finds the report attachments of a whole message.

It lives in ``auth`` beside ``dmarc.py``: DMARC is this layer's subject, and the parser
needs only the model and the standard library (no storage, no network), so the pipeline,
the services and the outbound report builder may all use it.
"""

from __future__ import annotations

import email
import email.policy
import io
import ipaddress
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Literal
from xml.parsers import expat

from mairust.errors import MairustError
from mairust.model.dmarc_reports import (
    AggregateReport,
    AuthDomainResult,
    PolicyPublished,
    ReportMetadata,
    ReportRow,
)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # a compressed report as it came
MAX_XML_BYTES = 32 * 1024 * 1024  # the XML once unpacked: a bomb stops here
MAX_ELEMENTS = 2_000_000
MAX_DEPTH = 16  # appendix C nests 5 deep; anything far deeper is not a report
MAX_TEXT = 1024  # one element's text
_MAX_TIMESTAMP = 2**33  # year 2242: later dates are nonsense

ErrorKind = Literal[
    "too_large", "bad_archive", "bad_gzip", "bad_xml", "dtd_refused", "not_a_report", "invalid"
]
REPORT_TYPES = frozenset(
    {
        "application/zip",
        "application/x-zip-compressed",
        "application/gzip",
        "application/x-gzip",
        "application/xml",
        "text/xml",
    }
)
_REPORT_SUFFIXES = (".zip", ".gz", ".xml")
_DISPOSITIONS = frozenset({"none", "quarantine", "reject"})
_ALIGNED = frozenset({"pass", "fail"})


class ReportError(MairustError):
    """An attachment that is not a usable aggregate report; ``kind`` says why."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind


@dataclass(slots=True)
class _Node:
    tag: str
    children: list[_Node] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def child(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def all(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]

    def value(self, path: str, *, required: bool = False) -> str:
        node: _Node | None = self
        for tag in path.split("/"):
            node = node.child(tag) if node is not None else None
        if node is None or not node.text:
            if required:
                raise ReportError("invalid", f"<{self.tag}> has no <{path}>")
            return ""
        if len(node.text) > MAX_TEXT:
            raise ReportError("invalid", f"<{path}> is longer than {MAX_TEXT} characters")
        return node.text


def parse_aggregate_report(data: bytes) -> AggregateReport:
    """The report in ``data`` (zip, gzip or XML, told by its first bytes). Raises
    ReportError, and nothing else, for anything that is not a valid report."""
    try:
        return _report(_parse_xml(unpack(data)))
    except ReportError:
        raise
    except (RecursionError, MemoryError, ValueError, OverflowError) as error:
        # Nothing expected reaches here; if something does, it is still the input's fault.
        raise ReportError("invalid", f"unusable report: {type(error).__name__}") from None


def unpack(data: bytes) -> bytes:
    """The XML of a zip (its one .xml member), gzip or plain report, at most MAX_XML_BYTES."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise ReportError("too_large", f"attachment over {MAX_ATTACHMENT_BYTES} bytes")
    if data.startswith(b"PK\x03\x04"):
        return _unzip(data)
    if data.startswith(b"\x1f\x8b"):
        return _gunzip(data)
    if len(data) > MAX_XML_BYTES:
        raise ReportError("too_large", f"XML over {MAX_XML_BYTES} bytes")
    return data


def _unzip(data: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
            xml = [i for i in members if i.filename.lower().endswith(".xml")] or members
            if len(xml) != 1:
                raise ReportError("bad_archive", f"zip holds {len(xml)} reports, not one")
            # Read at most one byte past the limit: the sizes in the archive may lie.
            with archive.open(xml[0]) as member:
                content = member.read(MAX_XML_BYTES + 1)
    except ReportError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        EOFError,
        OSError,
        zlib.error,
    ):
        raise ReportError("bad_archive", "not a readable zip archive") from None
    except RuntimeError:  # an encrypted member
        raise ReportError("bad_archive", "the zip member is encrypted") from None
    if len(content) > MAX_XML_BYTES:
        raise ReportError("too_large", f"unpacked report over {MAX_XML_BYTES} bytes")
    return content


def _gunzip(data: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=31)  # gzip framing only
    try:
        content = inflater.decompress(data, MAX_XML_BYTES + 1)
    except zlib.error:
        raise ReportError("bad_gzip", "not a readable gzip stream") from None
    if len(content) > MAX_XML_BYTES:
        raise ReportError("too_large", f"unpacked report over {MAX_XML_BYTES} bytes")
    if not inflater.eof:
        raise ReportError("bad_gzip", "the gzip stream is truncated")
    return content


def _parse_xml(data: bytes) -> _Node:
    """A tree of local names (namespaces dropped); any DTD refused before it is read."""
    parser = expat.ParserCreate(namespace_separator="}")
    stack: list[_Node] = []
    root: list[_Node] = []
    count = 0

    def start(name: str, _attributes: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS or len(stack) >= MAX_DEPTH:
            raise ReportError("invalid", "too many or too deeply nested elements")
        node = _Node(name.rsplit("}", 1)[-1])
        (stack[-1].children if stack else root).append(node)
        stack.append(node)

    def end(_name: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack and len(stack[-1].parts) < 64:  # long texts are refused by value()
            stack[-1].parts.append(data)

    def refuse(*_args: object) -> None:
        raise ReportError("dtd_refused", "a DTD or entity declaration (refused)")

    def refuse_external(*_args: str | None) -> int:
        raise ReportError("dtd_refused", "an external entity reference (refused)")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse_external
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise ReportError("bad_xml", f"not well-formed XML: {error}") from None
    except (LookupError, ValueError):  # an encoding Python does not know, or expat refuses
        raise ReportError("bad_xml", "unknown or unsupported character encoding") from None
    if not root or root[0].tag != "feedback":
        raise ReportError("not_a_report", "the document is not a DMARC <feedback>")
    return root[0]


def _report(feedback: _Node) -> AggregateReport:
    meta = _child(feedback, "report_metadata")
    policy = _child(feedback, "policy_published")
    rows = tuple(_row(n, record) for n, record in enumerate(feedback.all("record"), 1))
    return AggregateReport(
        metadata=ReportMetadata(
            org_name=meta.value("org_name", required=True),
            email=meta.value("email"),
            report_id=meta.value("report_id", required=True),
            begin=_timestamp(meta.value("date_range/begin", required=True)),
            end=_timestamp(meta.value("date_range/end", required=True)),
            extra_contact_info=meta.value("extra_contact_info"),
            errors=tuple(e.text[:MAX_TEXT] for e in meta.all("error") if e.text),
        ),
        policy=PolicyPublished(
            domain=_domain(policy.value("domain", required=True), "policy_published/domain"),
            adkim=_choice(policy.value("adkim") or "r", ("r", "s"), "adkim"),
            aspf=_choice(policy.value("aspf") or "r", ("r", "s"), "aspf"),
            p=_choice(policy.value("p", required=True), _DISPOSITIONS, "p"),
            sp=_choice(policy.value("sp"), _DISPOSITIONS | {""}, "sp"),
            pct=_integer(policy.value("pct") or "100", "pct", upper=100),
            fo=policy.value("fo"),
        ),
        rows=rows,
    )


def _row(number: int, record: _Node) -> ReportRow:
    where = f"record {number}"
    row = _child(record, "row", where)
    evaluated = _child(row, "policy_evaluated", where)
    identifiers = _child(record, "identifiers", where)
    auth = record.child("auth_results") or _Node("auth_results")
    source_ip = row.value("source_ip", required=True)
    try:
        ipaddress.ip_address(source_ip)
    except ValueError:
        raise ReportError("invalid", f"{where}: source_ip {source_ip!r} is no address") from None
    return ReportRow(
        source_ip=source_ip,
        count=_integer(row.value("count", required=True), f"{where} count"),
        disposition=_choice(
            evaluated.value("disposition", required=True), _DISPOSITIONS, f"{where} disposition"
        ),
        dkim=_choice(evaluated.value("dkim") or "fail", _ALIGNED, f"{where} dkim"),
        spf=_choice(evaluated.value("spf") or "fail", _ALIGNED, f"{where} spf"),
        header_from=_domains(
            identifiers.value("header_from", required=True), f"{where} header_from"
        ),
        envelope_from=identifiers.value("envelope_from"),
        envelope_to=identifiers.value("envelope_to"),
        dkim_results=tuple(
            AuthDomainResult(n.value("domain"), n.value("result"), selector=n.value("selector"))
            for n in auth.all("dkim")
        ),
        spf_results=tuple(
            AuthDomainResult(n.value("domain"), n.value("result"), scope=n.value("scope"))
            for n in auth.all("spf")
        ),
        reasons=tuple(r.value("type") for r in evaluated.all("reason") if r.value("type")),
    )


def _child(node: _Node, tag: str, where: str = "") -> _Node:
    found = node.child(tag)
    if found is None:
        raise ReportError("invalid", f"{where or node.tag}: <{tag}> is missing")
    return found


def _choice(value: str, allowed: frozenset[str] | tuple[str, ...], what: str) -> str:
    word = value.lower()
    if word not in allowed:
        raise ReportError("invalid", f"{what}: {value[:40]!r} is not one of {sorted(allowed)}")
    return word


def _integer(value: str, what: str, upper: int = 2**53) -> int:
    try:
        number = int(float(value)) if "." in value else int(value)
    except (ValueError, OverflowError):
        raise ReportError("invalid", f"{what}: {value[:40]!r} is not a number") from None
    if not 0 <= number <= upper:
        raise ReportError("invalid", f"{what}: {number} is out of range")
    return number


def _timestamp(value: str) -> datetime:
    return datetime.fromtimestamp(_integer(value, "date_range", _MAX_TIMESTAMP), UTC)


def _domain(value: str, what: str) -> str:
    name = value.strip().rstrip(".").lower()
    if not name or len(name) > 253 or any(c.isspace() or c in "<>@/\\\"'" for c in name):
        raise ReportError("invalid", f"{what}: {value[:60]!r} is not a domain name")
    return name


def _domains(value: str, what: str) -> str:
    """One domain, or several comma-separated (a message with several From addresses,
    as some reporters write them)."""
    return ", ".join(_domain(name, what) for name in value.split(","))


def report_payloads(raw: bytes) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each part of a message that may hold a report: a zip, gzip
    or XML by content type or file name (the whole body, when the message has one part)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_filename() or ""
        if part.get_content_type() in REPORT_TYPES or name.lower().endswith(_REPORT_SUFFIXES):
            payload = _payload(part)
            if payload:
                found.append((name, payload))
    return found


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def reports_in_message(
    raw: bytes, parse: Callable[[bytes], AggregateReport] = parse_aggregate_report
) -> list[AggregateReport | ReportError]:
    """Each candidate attachment of ``raw``, parsed or with its error; never raises."""
    results: list[AggregateReport | ReportError] = []
    try:
        payloads = report_payloads(raw)
    except Exception as error:  # the email package on hostile MIME: not a report we can read
        return [ReportError("not_a_report", f"unreadable message: {type(error).__name__}")]
    for _name, payload in payloads:
        try:
            results.append(parse(payload))
        except ReportError as error:
            results.append(error)
    return results
