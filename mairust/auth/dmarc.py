"""DMARC (RFC 7489, with RFC 9091 ``np=`` and the DMARCbis tree walk) over the resolver.

- ``parse_record`` reads a policy record strictly; a ``DmarcRecordError`` names the kind.
- ``discover_policy`` finds the record that governs a From domain: RFC 7489 §6.6.3 (author
  domain, then its organizational domain from the Public Suffix List), or with
  ``tree_walk=True`` the DMARCbis walk up the DNS tree (``psd=`` marks public suffixes).
- ``evaluate_dmarc`` combines SPF and DKIM results with identifier alignment.

Decisions (the RFC leaves them to us):

- Several From addresses (in one field or several) with different domains: each domain is
  evaluated and the strictest outcome is the answer (a ``fail`` under the harshest policy
  first), so a passing second address can never launder a spoofed first one.
- No usable From domain: ``permerror``. DNS failure: ``temperror``. No record: ``none``.
- A record with a missing or invalid ``p=`` (or invalid ``sp=``) follows RFC 7489 §6.6.3:
  ``p=none`` when ``rua=`` has a URI, else ``none`` (no DMARC processing). Any other
  syntax error is ``permerror``; ``p=`` must be a full word (``p=n`` is refused).
- ``pct=``: a failing message is sampled with ``sample()`` (a float in [0, 1)); out of the
  sample the policy steps down one level (RFC 7489 §6.6.4). Tests pass a fixed ``sample``.
- The SPF identity that aligns is the domain ``SpfResult.domain`` names, when it passed.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from email.utils import getaddresses
from typing import Literal
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from mairust.auth.dns import DnsTempError, NxDomain, RecordType, Resolver
from mairust.auth.headers import header_values
from mairust.auth.results import DkimResult, DkimWord, DmarcResult, DmarcWord, SpfResult, SpfWord
from mairust.errors import MairustError

Mode = Literal["relaxed", "strict"]
ErrorKind = Literal[
    "empty", "bad_version", "bad_syntax", "bad_value", "no_required_p", "multiple_records"
]
_POLICIES = ("none", "quarantine", "reject")
_VERSION = re.compile(r"^\s*v\s*=\s*DMARC1\s*(;|$)", re.IGNORECASE)
_TAG = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*)$", re.DOTALL)
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_MAX_WALK = 8  # DMARCbis: at most eight lookups in a tree walk


class DmarcRecordError(MairustError):
    """A DMARC record that cannot be used; ``kind`` says why, ``tag`` which tag if one."""

    def __init__(self, kind: ErrorKind, message: str, tag: str = "") -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.tag = tag


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    p: str
    sp: str | None = None
    np: str | None = None
    adkim: Mode = "relaxed"
    aspf: Mode = "relaxed"
    pct: int = 100
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    fo: tuple[str, ...] = ("0",)
    rf: tuple[str, ...] = ("afrf",)
    ri: int = 86400
    psd: str | None = None  # DMARCbis: "y" | "n" | "u"
    tags: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class DmarcPolicy:
    """The record that governs a From domain, and where it came from."""

    record: DmarcRecord
    record_domain: str
    organizational_domain: str
    via: str  # "author domain" | "organizational domain" | "tree walk"


# -- records -------------------------------------------------------------------------------


def _tags(text: str) -> dict[str, str]:
    if not text.strip():
        raise DmarcRecordError("empty", "empty record")
    if not _VERSION.match(text):
        raise DmarcRecordError("bad_version", "record does not start with v=DMARC1", "v")
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _TAG.match(part.strip())
        if match is None:
            raise DmarcRecordError("bad_syntax", f"not a tag=value pair: {part.strip()!r}")
        name, value = match.group(1).lower(), match.group(2).strip()
        if name in tags:
            raise DmarcRecordError("bad_syntax", f"tag {name}= appears twice", name)
        tags[name] = value
    return tags


def _choice(tags: dict[str, str], name: str, allowed: Sequence[str]) -> str | None:
    value = tags.get(name)
    if value is None:
        return None
    if value.lower() not in allowed:
        raise DmarcRecordError("bad_value", f"{name}={value} is not one of {allowed}", name)
    return value.lower()


def _number(tags: dict[str, str], name: str, default: int, upper: int) -> int:
    value = tags.get(name, str(default))
    if not re.fullmatch(r"\d{1,10}", value) or int(value) > upper:
        raise DmarcRecordError("bad_value", f"{name}={value} is not a number up to {upper}", name)
    return int(value)


def _listed(
    tags: dict[str, str], name: str, allowed: Sequence[str], default: str
) -> tuple[str, ...]:
    values = tuple(v.strip().lower() for v in tags.get(name, default).split(":"))
    if not values or any(v not in allowed for v in values):
        raise DmarcRecordError("bad_value", f"{name}={tags[name]} has an unknown value", name)
    return values


def _uris(tags: dict[str, str], name: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in tags.get(name, "").split(",") if u.strip())


def parse_record(text: str) -> DmarcRecord:
    """A DMARC record from its TXT text; unknown tags are ignored (RFC 7489 §6.3)."""
    tags = _tags(text)
    p = _choice(tags, "p", _POLICIES)
    sp = _choice(tags, "sp", _POLICIES)
    np = _choice(tags, "np", _POLICIES)
    adkim = _choice(tags, "adkim", ("r", "s"))
    aspf = _choice(tags, "aspf", ("r", "s"))
    record = DmarcRecord(
        p="none",
        sp=sp,
        np=np,
        adkim="strict" if adkim == "s" else "relaxed",
        aspf="strict" if aspf == "s" else "relaxed",
        pct=_number(tags, "pct", 100, 100),
        rua=_uris(tags, "rua"),
        ruf=_uris(tags, "ruf"),
        fo=_listed(tags, "fo", ("0", "1", "d", "s"), "0"),
        rf=_listed(tags, "rf", ("afrf", "iodef"), "afrf"),
        ri=_number(tags, "ri", 86400, 2**32 - 1),
        psd=_choice(tags, "psd", ("y", "n", "u")),
        tags=tags,
    )
    if p is None:
        raise DmarcRecordError("no_required_p", "record has no p= tag", "p")
    return replace(record, p=p)


def _policy_record(text: str) -> DmarcRecord | None:
    """``parse_record`` with RFC 7489 §6.6.3's rule for a bad p=/sp=; None: do not apply."""
    try:
        return parse_record(text)
    except DmarcRecordError as exc:
        if exc.kind not in ("no_required_p", "bad_value") or exc.tag not in ("p", "sp"):
            raise
        tags = _tags(text)
        if not any(urlsplit(uri).scheme for uri in _uris(tags, "rua")):
            return None
        tags = {k: v for k, v in tags.items() if k != "sp"} | {"p": "none"}
        return parse_record("; ".join(f"{k}={v}" for k, v in tags.items()))


def _record_at(resolver: Resolver, domain: str) -> str | None:
    """The one DMARC record at ``_dmarc.<domain>``, or None; several are an error."""
    try:
        answers = resolver.lookup(f"_dmarc.{domain}", "TXT")
    except NxDomain:
        return None
    records = [a for a in answers if _VERSION.match(a)]
    if len(records) > 1:
        raise DmarcRecordError("multiple_records", f"_dmarc.{domain} has several DMARC records")
    return records[0] if records else None


# -- domains -------------------------------------------------------------------------------


@functools.cache
def _suffix_list() -> PublicSuffixList:
    # Loaded once, read-only: the package ships the list, nothing is fetched.
    return PublicSuffixList()


def _normal(domain: str) -> str:
    return domain.strip().strip(".").lower()


def organizational_domain(domain: str) -> str:
    """The registrable domain (public suffix plus one label); a suffix is its own."""
    name = _normal(domain)
    if not name or "" in name.split("."):
        return name
    return _suffix_list().privatesuffix(name) or name


def aligned(from_domain: str, auth_domain: str, mode: Mode) -> bool:
    """RFC 7489 §3.1: strict needs the same name, relaxed the same organizational domain."""
    left, right = _normal(from_domain), _normal(auth_domain)
    if not left or not right:
        return False
    if mode == "strict":
        return left == right
    return organizational_domain(left) == organizational_domain(right)


def author_domains(message: bytes) -> tuple[str, ...]:
    """The domain of every From mailbox, lower-cased; "" for a mailbox without one."""
    addresses = getaddresses(header_values(message, "from"))
    return tuple(_normal(addr.rpartition("@")[2]) if "@" in addr else "" for _, addr in addresses)


def _dns_name(domain: str) -> str:
    """``domain`` normalised, in A-labels (RFC 5891) if it has U-labels; "" if not a name."""
    name = _normal(domain)
    try:
        name = name if name.isascii() else name.encode("idna").decode("ascii")
    except UnicodeError:
        return ""
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return ""
    return name


def _domain_exists(resolver: Resolver, domain: str) -> bool:
    """RFC 9091 §2.1: a domain exists unless A, AAAA and MX all say NXDOMAIN or NODATA."""
    rdtypes: tuple[RecordType, ...] = ("A", "AAAA", "MX")
    for rdtype in rdtypes:
        try:
            if resolver.lookup(domain, rdtype):
                return True
        except NxDomain:
            return False
    return False


# -- discovery -----------------------------------------------------------------------------


def discover_policy(
    resolver: Resolver, from_domain: str, *, tree_walk: bool = False
) -> DmarcPolicy | None:
    """The record that governs ``from_domain``, or None. Raises DnsTempError, DmarcRecordError."""
    domain = _normal(from_domain)
    if tree_walk:
        return _walk(resolver, domain)
    org = organizational_domain(domain)
    text = _record_at(resolver, domain)
    if text is not None:
        record = _policy_record(text)
        return None if record is None else DmarcPolicy(record, domain, org, "author domain")
    if org == domain or (text := _record_at(resolver, org)) is None:
        return None
    record = _policy_record(text)
    return None if record is None else DmarcPolicy(record, org, org, "organizational domain")


def _walk_names(domain: str) -> list[str]:
    """The author domain, then (from at most seven labels) each parent up to the TLD."""
    labels = domain.split(".")
    start = min(len(labels) - 1, _MAX_WALK - 1)
    return [domain] + [".".join(labels[-n:]) for n in range(start, 0, -1)]


def _walk_records(resolver: Resolver, domain: str) -> list[tuple[str, str]]:
    """(name, record text) for every name of the walk that has a DMARC record."""
    found = []
    for name in _walk_names(domain):
        text = _record_at(resolver, name)
        if text is not None:
            found.append((name, text))
    return found


def _walk(resolver: Resolver, domain: str) -> DmarcPolicy | None:
    found = _walk_records(resolver, domain)
    if not found:
        return None
    policy_domain, text = found[0]
    record = _policy_record(text)
    if record is None:
        return None
    via = "author domain" if policy_domain == domain else "tree walk"
    return DmarcPolicy(record, policy_domain, _org_from_walk(domain, found), via)


def _org_from_walk(domain: str, found: list[tuple[str, str]]) -> str:
    """DMARCbis organizational domain: stop at psd=n (that name) or psd=y (one label below
    it, toward the author domain); otherwise the shortest name with a record."""
    labels = domain.split(".")
    for name, text in found:
        try:
            psd = parse_record(text).psd
        except DmarcRecordError:
            continue  # a broken record says nothing about where the organization starts
        if psd == "n":
            return name
        if psd == "y":
            return ".".join(labels[-(len(name.split(".")) + 1) :]) if name != domain else domain
    return found[-1][0] if found else domain


def _org_of(resolver: Resolver, domain: str, tree_walk: bool, cache: dict[str, str]) -> str:
    if domain not in cache:
        if tree_walk:
            cache[domain] = _org_from_walk(domain, _walk_records(resolver, domain))
        else:
            cache[domain] = organizational_domain(domain)
    return cache[domain]


# -- evaluation ----------------------------------------------------------------------------

_RESULT_RANK = {
    DmarcWord.PASS: 0,
    DmarcWord.NONE: 1,
    DmarcWord.PERMERROR: 2,
    DmarcWord.TEMPERROR: 3,
    DmarcWord.FAIL: 4,
}
_STEP_DOWN = {"reject": "quarantine", "quarantine": "none", "none": "none"}


def evaluate_dmarc(
    resolver: Resolver,
    from_header_domains: Sequence[str],
    spf: SpfResult | None,
    dkim: Sequence[DkimResult],
    *,
    sample: Callable[[], float] | None = None,
    tree_walk: bool = False,
) -> DmarcResult:
    """The DMARC result for a message whose From mailboxes have ``from_header_domains``."""
    domains = list(dict.fromkeys(_dns_name(d) for d in from_header_domains))
    if not domains or "" in domains:
        return DmarcResult(DmarcWord.PERMERROR, policy="none", reason="no usable From domain")
    draw = sample or random.random
    results = [_evaluate_one(resolver, d, spf, dkim, draw, tree_walk) for d in domains]
    return max(results, key=lambda r: (_RESULT_RANK[r.result], _policy_rank(r.policy)))


def _policy_rank(policy: str) -> int:
    return _POLICIES.index(policy) if policy in _POLICIES else -1


def _evaluate_one(
    resolver: Resolver,
    domain: str,
    spf: SpfResult | None,
    dkim: Sequence[DkimResult],
    draw: Callable[[], float],
    tree_walk: bool,
) -> DmarcResult:
    try:
        found = discover_policy(resolver, domain, tree_walk=tree_walk)
        if found is None:
            return DmarcResult(DmarcWord.NONE, domain, reason="no DMARC record")
        policy, via = _applicable_policy(resolver, domain, found)
        spf_ok, dkim_ok = _alignment(resolver, domain, found, spf, dkim, tree_walk)
    except DnsTempError as exc:
        return DmarcResult(DmarcWord.TEMPERROR, domain, reason=f"DNS lookup failed: {exc}")
    except DmarcRecordError as exc:
        if exc.kind == "multiple_records":
            return DmarcResult(DmarcWord.NONE, domain, reason=str(exc))
        return DmarcResult(DmarcWord.PERMERROR, domain, policy="none", reason=str(exc))
    reason = f"{via} record at _dmarc.{found.record_domain}"
    if spf_ok or dkim_ok:
        return DmarcResult(DmarcWord.PASS, domain, policy, spf_ok, dkim_ok, reason)
    if found.record.pct < 100 and draw() * 100 >= found.record.pct:
        stepped = _STEP_DOWN[policy]
        reason += f"; outside pct={found.record.pct}: {policy} applied as {stepped}"
        policy = stepped
    return DmarcResult(DmarcWord.FAIL, domain, policy, False, False, reason)


def _applicable_policy(resolver: Resolver, domain: str, found: DmarcPolicy) -> tuple[str, str]:
    """p= at the author domain; for a subdomain np= (if it does not exist) or sp=, else p=."""
    record = found.record
    if found.record_domain == domain:
        return record.p, f"p= of the {found.via}"
    if record.np is not None and not _domain_exists(resolver, domain):
        return record.np, f"np= of the {found.via}"
    if record.sp is not None:
        return record.sp, f"sp= of the {found.via}"
    return record.p, f"p= of the {found.via}"


def _alignment(
    resolver: Resolver,
    domain: str,
    found: DmarcPolicy,
    spf: SpfResult | None,
    dkim: Sequence[DkimResult],
    tree_walk: bool,
) -> tuple[bool, bool]:
    cache = {domain: found.organizational_domain}

    def matches(auth_domain: str, mode: Mode) -> bool:
        other = _normal(auth_domain)
        if not other or mode == "strict" or other == domain:
            return other == domain
        return _org_of(resolver, other, tree_walk, cache) == cache[domain]

    spf_ok = (
        spf is not None and spf.result == SpfWord.PASS and matches(spf.domain, found.record.aspf)
    )
    dkim_ok = any(d.result == DkimWord.PASS and matches(d.domain, found.record.adkim) for d in dkim)
    return spf_ok, dkim_ok
