"""A real authoritative DNS server on loopback, for tests of anything that resolves names.

``ZoneServer`` answers UDP and TCP on 127.0.0.1 from a plain dict of records, so the real
``CachingResolver`` (dnspython) is tested on the wire: NXDOMAIN, NODATA, SERVFAIL, timeouts,
truncation with TCP fallback, TTLs and negative-caching SOAs.

Records::

    {"example.com": {"TXT": ["v=spf1 -all", ["two ", "strings"]], "A": ["192.0.2.1"],
                     "AAAA": ["2001:db8::1"], "MX": [(10, "mx.example.com")],
                     "PTR": ["host.example.com"], "CNAME": "target.example.com", "TTL": 60}}

Names are case-insensitive (a trailing dot is ignored). A TXT item is one record: a ``str``
(split into 255-byte character-strings when longer, as zone compilers do) or a list of
character-strings given explicitly. ``TTL`` (optional) overrides the server's TTL for the name.

``timeout_names`` / ``servfail_names`` hold a name (every type) or a ``(name, rdtype)`` pair.
``records_from_suite_zonedata`` turns an SPF test suite's ``zonedata`` into this form.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from dnslib import (  # type: ignore[import-untyped]
    AAAA,
    CNAME,
    MX,
    PTR,
    QTYPE,
    RCODE,
    RR,
    SOA,
    TXT,
    A,
    DNSHeader,
    DNSRecord,
)

log = logging.getLogger(__name__)

Records = Mapping[str, Mapping[str, Any]]
NameOrPair = str | tuple[str, str]

_MAX_CHARACTER_STRING = 255
_PLAIN_UDP_LIMIT = 512  # RFC 1035 §4.2.1, when the query carries no EDNS0 OPT record
_RDATA = {"A": A, "AAAA": AAAA, "PTR": PTR}
_ALL_TYPES = ("A", "AAAA", "MX", "TXT", "PTR", "CNAME", "SPF")


def normalize_name(name: str) -> str:
    return name.rstrip(".").lower()


def split_character_strings(text: str | bytes) -> list[bytes]:
    """One TXT record's character-strings: at most 255 bytes each (RFC 1035 §3.3.14)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if not data:
        return [b""]
    return [data[i : i + _MAX_CHARACTER_STRING] for i in range(0, len(data), _MAX_CHARACTER_STRING)]


def txt_character_strings(item: str | bytes | Sequence[str | bytes]) -> list[bytes]:
    if isinstance(item, str | bytes):
        return split_character_strings(item)
    return [s.encode("utf-8") if isinstance(s, str) else s for s in item]


def name_type_selectors(entries: Iterable[NameOrPair]) -> frozenset[tuple[str, str]]:
    """Names become ``(name, "*")``; pairs keep their type, all normalised."""
    out: set[tuple[str, str]] = set()
    for entry in entries:
        if isinstance(entry, str):
            out.add((normalize_name(entry), "*"))
        else:
            out.add((normalize_name(entry[0]), entry[1].upper()))
    return frozenset(out)


def matches(selectors: frozenset[tuple[str, str]], name: str, rdtype: str) -> bool:
    key = normalize_name(name)
    return (key, "*") in selectors or (key, rdtype.upper()) in selectors


@dataclass(frozen=True)
class SuiteZone:
    """An SPF suite's ``zonedata`` as records plus the lookups that must time out."""

    records: dict[str, dict[str, Any]]
    timeout_names: frozenset[tuple[str, str]] = field(default_factory=frozenset)


def records_from_suite_zonedata(zonedata: Mapping[str, Sequence[Any]]) -> SuiteZone:
    """Translate the openspf suite format, as pyspf's own ``test/testspf.py`` reads it.

    - ``SPF`` entries (type 99, removed by RFC 7208) become TXT records, unless the name
      has TXT entries of its own (then the suite is testing which one is selected).
    - A bare ``TIMEOUT`` entry: every type not listed before it times out.
    - ``{TYPE: TIMEOUT}`` times out that type; ``{TYPE: NONE}`` gives no record.
    """
    records: dict[str, dict[str, Any]] = {}
    timeouts: set[tuple[str, str]] = set()
    for raw_name, entries in zonedata.items():
        name = normalize_name(raw_name)
        rrs: dict[str, Any] = {}
        answered: set[str] = set()
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        for entry in entries:
            if entry == "TIMEOUT":
                timeouts.update((name, t) for t in _ALL_TYPES if t not in answered)
                break
            ((rdtype, value),) = entry.items()
            if value == "NONE":
                continue
            # Only the entry's own type counts as answered before a TIMEOUT: a TXT generated
            # from an SPF entry still times out (pyspf's driver appends those last).
            answered.add(rdtype)
            if rdtype == "SPF":
                if has_txt:
                    continue
                rdtype = "TXT"
            if value == "TIMEOUT":
                timeouts.add((name, rdtype))
            elif rdtype == "TXT":
                rrs.setdefault("TXT", []).append([value] if isinstance(value, str) else value)
            elif rdtype == "MX":
                rrs.setdefault("MX", []).append((int(value[0]), str(value[1])))
            elif rdtype == "CNAME":
                rrs["CNAME"] = value
            else:
                rrs.setdefault(rdtype, []).append(value)
        records[name] = rrs
    return SuiteZone(records=records, timeout_names=frozenset(timeouts))


def _label_text(name: Any) -> str:
    if isinstance(name, str):
        return normalize_name(name)
    return ".".join(label.decode("utf-8", "surrogateescape") for label in name.label).lower()


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    zone: ZoneServer


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    zone: ZoneServer


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _UdpServer

    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.zone.answer(data, "udp")
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        header = _recv_exactly(sock, 2)
        if header is None:
            return
        data = _recv_exactly(sock, struct.unpack("!H", header)[0])
        if data is None:
            return
        reply = self.server.zone.answer(data, "tcp")
        if reply is not None:  # a timeout name: close without answering
            sock.sendall(struct.pack("!H", len(reply)) + reply)


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class ZoneServer:
    """Serves ``records`` on 127.0.0.1:``port`` (UDP and TCP) until the context exits;
    ``port`` 0 takes a free one."""

    def __init__(
        self,
        records: Records,
        *,
        timeout_names: Iterable[NameOrPair] = (),
        servfail_names: Iterable[NameOrPair] = (),
        ttl: int = 300,
        negative_ttl: int = 300,
        udp_limit: int | None = None,
        port: int = 0,
    ) -> None:
        self.records: dict[str, Mapping[str, Any]] = {
            normalize_name(k): v for k, v in records.items()
        }
        self.timeout_names = name_type_selectors(timeout_names)
        self.servfail_names = name_type_selectors(servfail_names)
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.udp_limit = udp_limit  # forces truncation below the client's EDNS size
        self.queries: list[tuple[str, str, str]] = []  # (name, type, "udp"|"tcp")
        self._lock = threading.Lock()
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self.port = 0
        self._wanted_port = port  # 0: any free port

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> ZoneServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        # UDP takes a free port; TCP must get the same number, so retry if it is taken.
        for _ in range(1 if self._wanted_port else 20):
            udp = _UdpServer(("127.0.0.1", self._wanted_port), _UdpHandler)
            port = udp.server_address[1]
            try:
                tcp = _TcpServer(("127.0.0.1", port), _TcpHandler)
            except OSError:
                udp.server_close()
                continue
            break
        else:
            raise OSError("no port free for both UDP and TCP on 127.0.0.1")
        udp.zone = tcp.zone = self
        self.port = port
        self._servers = [udp, tcp]
        for server in self._servers:
            # A short poll interval keeps stop() fast: shutdown() waits for the next poll.
            thread = threading.Thread(
                target=server.serve_forever, args=(0.02,), daemon=True, name="zone-dns"
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def queries_for(self, name: str, rdtype: str | None = None) -> list[str]:
        """The transports ("udp"/"tcp") of the queries received for ``name`` (and type)."""
        key = normalize_name(name)
        with self._lock:
            return [
                proto
                for qname, qtype, proto in self.queries
                if qname == key and (rdtype is None or qtype == rdtype)
            ]

    # -- answering ---------------------------------------------------------------------

    def answer(self, data: bytes, proto: str) -> bytes | None:
        """The wire reply to one query, or None to stay silent (a timeout name)."""
        try:
            request = DNSRecord.parse(data)
        except Exception:  # a malformed packet is dropped, as a real server would
            log.warning("dropping malformed DNS query (%d bytes)", len(data))
            return None
        # The raw labels: str() would escape bytes such as spaces as \\032.
        qname = _label_text(request.q.qname)
        qtype = QTYPE.get(request.q.qtype)
        with self._lock:
            self.queries.append((normalize_name(qname), str(qtype), proto))
        if matches(self.timeout_names, qname, str(qtype)):
            return None
        reply = request.reply()
        reply.header.ra = 0
        if matches(self.servfail_names, qname, str(qtype)):
            reply.header.rcode = RCODE.SERVFAIL
            return bytes(reply.pack())
        self._fill(reply, request.q.qname, str(qtype))
        wire = bytes(reply.pack())
        if proto == "udp" and len(wire) > self._udp_size(request):
            truncated = DNSRecord(DNSHeader(id=reply.header.id, qr=1, aa=1, tc=1, rd=1))
            truncated.add_question(request.q)
            wire = bytes(truncated.pack())
        return wire

    def _udp_size(self, request: Any) -> int:
        size = _PLAIN_UDP_LIMIT
        for rr in request.ar:
            if rr.rtype == QTYPE.OPT:
                size = max(size, int(rr.rclass))
        return size if self.udp_limit is None else min(size, self.udp_limit)

    def _fill(self, reply: Any, qname: Any, qtype: str) -> None:
        owner = qname  # a DNSLabel, or a CNAME target's text
        for _ in range(8):  # follow in-zone CNAMEs, as an authoritative server does
            rrs = self.records.get(_label_text(owner))
            if rrs is None:
                reply.header.rcode = RCODE.NXDOMAIN
                self._add_soa(reply)
                return
            ttl = int(rrs.get("TTL", self.ttl))
            target = rrs.get("CNAME")
            if target is not None and qtype != "CNAME":
                reply.add_answer(RR(owner, QTYPE.CNAME, rdata=CNAME(target), ttl=ttl))
                owner = target
                continue
            answers = list(self._rdata(rrs, qtype))
            for rdata in answers:
                reply.add_answer(RR(owner, getattr(QTYPE, qtype), rdata=rdata, ttl=ttl))
            if not answers:
                self._add_soa(reply)
            return
        reply.header.rcode = RCODE.SERVFAIL  # a CNAME loop

    def _rdata(self, rrs: Mapping[str, Any], qtype: str) -> Iterable[Any]:
        if qtype == "TXT":
            for item in rrs.get("TXT", ()):
                # RDATA needs at least one character-string (RFC 1035 §3.3.14): a TXT given
                # with none is served as one empty string, as a zone compiler would.
                yield TXT(txt_character_strings(item) or [b""])
        elif qtype == "MX":
            for preference, exchange in rrs.get("MX", ()):
                yield MX(exchange or ".", int(preference))
        elif qtype == "CNAME" and "CNAME" in rrs:
            yield CNAME(rrs["CNAME"])
        elif qtype in _RDATA:
            for value in rrs.get(qtype, ()):
                yield _RDATA[qtype](value)

    def _add_soa(self, reply: Any) -> None:
        """A root SOA in the authority section: its minimum is the negative-caching TTL."""
        times = (1, 3600, 600, 86400, self.negative_ttl)
        soa = SOA("ns.test.", "hostmaster.test.", times)
        reply.add_auth(RR(".", QTYPE.SOA, rdata=soa, ttl=self.negative_ttl))
