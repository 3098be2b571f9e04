"""The resolver contract every check uses; DNS is injected, never looked up globally.

``lookup`` returns records as presentation text, so SPF (pyspf), DKIM/ARC (dkimpy's
``dnsfunc``) and DMARC read the same answers, and tests pass a plain dict-backed
resolver or point the real one (``dns_resolver.py``) at a loopback server.
"""

from __future__ import annotations

from typing import Literal, Protocol

from mairust.errors import MairustError

RecordType = Literal["A", "AAAA", "MX", "TXT", "PTR", "CNAME"]


class DnsError(MairustError):
    """A lookup that did not give an answer."""


class NxDomain(DnsError):
    """The name does not exist (NXDOMAIN): a definite answer, not a failure."""


class DnsTempError(DnsError):
    """Timeout, SERVFAIL, refused or unreachable server: the answer is unknown (temperror)."""


class Resolver(Protocol):
    def lookup(self, name: str, rdtype: RecordType) -> tuple[str, ...]:
        """The records of type ``rdtype`` at ``name``, as presentation text.

        - A / AAAA: the address (``"192.0.2.1"``, ``"2001:db8::1"``)
        - MX: ``"<preference> <exchange>"`` with no trailing dot (``"10 mx.example.com"``)
        - TXT: one string per record, its character-strings joined with nothing between
        - PTR / CNAME: the target name with no trailing dot

        An empty tuple means the name exists but has no such records (NODATA).
        Raises NxDomain when the name does not exist, DnsTempError when no answer came.
        CNAMEs are followed by the resolver for the other types.
        """
        ...
