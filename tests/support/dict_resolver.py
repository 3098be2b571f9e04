"""A dict-backed ``Resolver`` for unit tests: no sockets, same record format as ``ZoneServer``.

``DictResolver(records)`` answers exactly as ``mairust.auth.dns.Resolver`` promises (presentation
text, CNAMEs followed, NXDOMAIN vs NODATA), so a test can swap it for the real
``CachingResolver`` pointed at a ``ZoneServer`` and expect the same answers.
``temp_error_names`` (a name, or a ``(name, rdtype)`` pair) raise ``DnsTempError``.
Every call is recorded in ``lookups`` so tests can assert what was (not) asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mairust.auth.dns import DnsTempError, NxDomain, RecordType
from tests.support.dns_server import (
    NameOrPair,
    Records,
    matches,
    name_type_selectors,
    normalize_name,
    txt_character_strings,
)

_MAX_CNAME_CHAIN = 8


def _valid_name(name: str) -> bool:
    labels = normalize_name(name).split(".")
    return len(name) <= 253 and all(0 < len(label) < 64 for label in labels)


class DictResolver:
    def __init__(self, records: Records, temp_error_names: Iterable[NameOrPair] = ()) -> None:
        self.records: dict[str, Mapping[str, Any]] = {
            normalize_name(k): v for k, v in records.items()
        }
        self.temp_error_names = name_type_selectors(temp_error_names)
        self.lookups: list[tuple[str, str]] = []

    def lookup(self, name: str, rdtype: RecordType) -> tuple[str, ...]:
        self.lookups.append((normalize_name(name), rdtype))
        owner = name
        for _ in range(_MAX_CNAME_CHAIN):
            if matches(self.temp_error_names, owner, rdtype):
                raise DnsTempError(f"{owner} {rdtype}: timed out (test)")
            if not _valid_name(owner):
                raise NxDomain(f"{owner}: not a valid domain name")
            rrs = self.records.get(normalize_name(owner))
            if rrs is None:
                raise NxDomain(f"{owner}: no such name")
            target = rrs.get("CNAME")
            if target is not None and rdtype != "CNAME":
                owner = target
                continue
            return tuple(_present(rrs, rdtype))
        raise DnsTempError(f"{name} {rdtype}: CNAME chain too long")


def _present(rrs: Mapping[str, Any], rdtype: str) -> Iterable[str]:
    if rdtype == "TXT":
        for item in rrs.get("TXT", ()):
            yield b"".join(txt_character_strings(item)).decode("utf-8", "surrogateescape")
    elif rdtype == "MX":
        for preference, exchange in rrs.get("MX", ()):
            yield f"{int(preference)} {exchange.rstrip('.') or '.'}"
    elif rdtype == "CNAME":
        if "CNAME" in rrs:
            yield str(rrs["CNAME"]).rstrip(".")
    else:
        for value in rrs.get(rdtype, ()):
            yield str(value).rstrip(".")
