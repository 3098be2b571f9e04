"""TLS-RPT (RFC 8460) texts: the ``_smtp._tls`` TXT record, and the JSON report.

Pure functions over what DNS returned and what the store counted; looking up, sending
and scheduling are ``tls_report_sender.py``'s and ``tls_report_loop.py``'s.

- :func:`parse_tlsrpt_record`: of a name's TXT records, those starting ``v=TLSRPTv1``
  must be exactly one (§3: otherwise the domain does not do TLS-RPT); its ``rua`` is a
  comma-separated list of ``mailto:`` and ``https:`` URIs; other schemes and malformed
  URIs are dropped; a record without a usable one means no reports (None).
- :func:`report_json`: one day's counts of one policy domain as the §4 report
  (``organization-name``, ``date-range``, ``contact-info``, ``report-id``, ``policies``
  with ``policy``, ``summary`` and ``failure-details``), one policy entry per policy seen;
  :func:`report_gzip` is its gzip'd UTF-8 (``application/tlsrpt+gzip``, §5.3).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from mairust.model.tls_reports import SUCCESS, TlsResultCount

_FIELD = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_ADDRESS = re.compile(r"[^\s@<>,;\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def parse_tlsrpt_record(records: Sequence[str]) -> tuple[str, ...] | None:
    """The usable ``rua`` URIs of a domain's ``_smtp._tls`` TXT records, or None."""
    candidates = [r for r in records if r.startswith("v=TLSRPTv1")]
    if len(candidates) != 1:
        return None
    fields: dict[str, str] = {}
    for index, part in enumerate(candidates[0].split(";")):
        name, equals, value = part.strip(" \t").partition("=")
        if index == 0:
            if (name, value) != ("v", "TLSRPTv1"):
                return None  # "v=TLSRPTv10", "v=TLSRPTv1x"
            continue
        if not name and not equals:
            continue  # a trailing ";"
        if not equals or not _FIELD.fullmatch(name):
            return None
        fields.setdefault(name, value.strip(" \t"))
    uris = [u for u in (_uri(raw.strip(" \t")) for raw in fields.get("rua", "").split(",")) if u]
    return tuple(dict.fromkeys(uris)) or None


def mailto_address(uri: str) -> str | None:
    """``mailto:tls@far.test`` → the address; None for any other URI."""
    if not uri.lower().startswith("mailto:"):
        return None
    return uri[len("mailto:") :]


def _uri(text: str) -> str | None:
    if not text.isascii() or not text.isprintable() or " " in text:
        return None
    scheme, _, rest = text.partition(":")
    if scheme.lower() == "mailto":
        # Only plain addresses: the record is the domain owner's text, and the address
        # goes into a header and an envelope.
        address = unquote(rest.split("?", 1)[0])
        return f"mailto:{address}" if _ADDRESS.fullmatch(address) else None
    if scheme.lower() == "https":
        parts = urlsplit(text)
        if not parts.hostname or parts.username or parts.password or parts.fragment:
            return None
        return text
    return None


def report_id_for(day: date, policy_domain: str, org_name: str) -> str:
    """The same id for the same report, wherever and however often it is built."""
    return f"{day:%Y%m%d}.{policy_domain}@{org_name}"


def day_range(day: date) -> tuple[datetime, datetime]:
    """The first and the last second of a UTC day, as a report's date-range has them."""
    start = datetime.combine(day, time(0), UTC)
    return start, start + timedelta(days=1, seconds=-1)


def report_json(
    day: date,
    policy_domain: str,
    counts: Iterable[TlsResultCount],
    *,
    org_name: str,
    contact: str,
    report_id: str,
) -> dict[str, Any]:
    """The §4 report of ``day`` for ``policy_domain`` from its counts."""
    start, end = day_range(day)
    policies: dict[tuple[Any, ...], dict[str, Any]] = {}
    for count in sorted(counts, key=_order):
        key = count.key
        if key.policy_domain != policy_domain or key.day != day:
            continue
        identity = (key.policy_type, key.policy_string, key.mx_hosts)
        entry = policies.get(identity)
        if entry is None:
            policy: dict[str, Any] = {"policy-type": key.policy_type}
            if key.policy_string:
                policy["policy-string"] = list(key.policy_string)
            policy["policy-domain"] = policy_domain
            if key.mx_hosts:
                policy["mx-host"] = list(key.mx_hosts)
            entry = policies[identity] = {
                "policy": policy,
                "summary": {"total-successful-session-count": 0, "total-failure-session-count": 0},
                "failure-details": [],
            }
        if key.result_type == SUCCESS:
            entry["summary"]["total-successful-session-count"] += count.count
            continue
        entry["summary"]["total-failure-session-count"] += count.count
        detail: dict[str, Any] = {"result-type": key.result_type}
        if key.sending_ip:
            detail["sending-mta-ip"] = key.sending_ip
        if key.receiving_mx:
            detail["receiving-mx-hostname"] = key.receiving_mx
        if key.receiving_ip:
            detail["receiving-ip"] = key.receiving_ip
        detail["failed-session-count"] = count.count
        entry["failure-details"].append(detail)
    for entry in policies.values():
        if not entry["failure-details"]:
            del entry["failure-details"]
    return {
        "organization-name": org_name,
        "date-range": {"start-datetime": _iso(start), "end-datetime": _iso(end)},
        "contact-info": contact,
        "report-id": report_id,
        "policies": list(policies.values()),
    }


def report_gzip(report: dict[str, Any]) -> bytes:
    """The report as sent: UTF-8 JSON, gzip'd (no timestamp: the same report, the same
    bytes)."""
    return gzip.compress(json.dumps(report, ensure_ascii=False).encode(), mtime=0)


def _order(count: TlsResultCount) -> tuple[Any, ...]:
    key = count.key
    return (
        key.policy_type,
        key.policy_string,
        key.mx_hosts,
        key.result_type != SUCCESS,
        key.result_type,
        key.receiving_mx,
        key.receiving_ip,
        key.sending_ip,
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
