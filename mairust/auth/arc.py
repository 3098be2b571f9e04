"""ARC (RFC 8617): validate the chain a message arrives with, and seal it when we forward.

``verify_arc`` runs dkimpy's chain validation with keys looked up through our ``Resolver``
and maps its outcome to the three RFC 8617 words. One decision of ours: a chain whose
newest ARC-Seal says ``cv=fail`` is ``fail`` (RFC 8617 §5.2 step 2); dkimpy reports that as
"no verdict" (None), which the ValiMail suite expects as an empty result.

A DNS failure while fetching a key makes that signature not verify, so the chain is
``fail``: ARC has no ``temperror`` word. The reason then names the lookup that failed.

``seal_arc`` adds this hop's ARC set (RFC 8617 §5.1) given the ``Authentication-Results``
value we stamped, which must carry ``arc=<result>`` when the message already has a chain.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import dkim  # type: ignore[import-untyped]

from mairust.auth.dkim import VerdictLogger, is_key_name
from mairust.auth.dns import DnsTempError, NxDomain, Resolver
from mairust.auth.headers import AUTH_RESULTS
from mairust.auth.results import ArcResult, ArcWord
from mairust.errors import MairustError

_DKIMPY_LOG = VerdictLogger(logging.getLogger(f"{__name__}.dkimpy"))
MAX_INSTANCE = 50  # RFC 8617 §4.2.1: i= is 1..50; a longer chain fails unchecked
_WORDS = {b"pass": ArcWord.PASS, b"fail": ArcWord.FAIL, b"none": ArcWord.NONE}


class ArcSealError(MairustError):
    """The message could not be sealed (bad key, no From, a chain without a verdict...)."""


class _KeyLookup:
    """dkimpy's ``dnsfunc``: TXT text through our resolver, remembering DNS failures."""

    def __init__(self, resolver: Resolver) -> None:
        self._resolver = resolver
        self.failures: list[str] = []

    def __call__(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        text = (name.decode("ascii", "replace") if isinstance(name, bytes) else name).rstrip(".")
        if not is_key_name(text):
            return None  # s= / d= that make no DNS name: no key, and nothing is asked
        try:
            records = self._resolver.lookup(text, "TXT")
        except NxDomain:
            return None
        except DnsTempError as exc:
            self.failures.append(f"{text}: {exc}")
            # dkimpy turns this into "signature did not verify" for that signature.
            raise dkim.DnsTimeoutError(str(exc)) from exc
        return records[0].encode("utf-8", "surrogateescape") if records else None


def verify_arc(resolver: Resolver, message: bytes) -> ArcResult:
    """The ARC chain validation status of ``message``; never raises for its content."""
    lookup = _KeyLookup(resolver)
    try:
        chain = dkim.ARC(message, logger=_DKIMPY_LOG, minkey=1024)
        length, _ = chain.sorted_arc_headers()
        if length > MAX_INSTANCE:
            return ArcResult(ArcWord.FAIL, int(length), f"i={length} is over {MAX_INSTANCE}")
        cv, _, comment = chain.verify(dnsfunc=lookup)
    except (dkim.DKIMException, ValueError, TypeError, LookupError) as exc:
        return ArcResult(ArcWord.FAIL, reason=f"ARC headers could not be read: {exc}")
    word = _WORDS.get(cv, ArcWord.FAIL)  # None: an ARC-Seal reported cv=fail
    reason = str(comment) if word is ArcWord.FAIL else ""
    if word is ArcWord.FAIL and lookup.failures:
        reason = f"{reason}; key lookup failed: {', '.join(lookup.failures)}"
    return ArcResult(word, chain_length=int(length), reason=reason)


def seal_arc(
    message: bytes,
    *,
    selector: str,
    domain: str,
    private_key: bytes,
    authserv_id: str,
    auth_results: str | None,
    timestamp: int | None = None,
    include_headers: Sequence[str] | None = None,
) -> bytes:
    """This hop's ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results, CRLF-ended.

    ``message`` is the message as it will be forwarded; ``auth_results`` is the value
    ``headers.authentication_results`` built for it, or None when ``message`` carries our
    Authentication-Results field(s) already (all of them are copied into the AAR). Prepend
    the returned bytes to the forwarded message.
    """
    stamped = message
    if auth_results is not None:
        # dkimpy reads the results to copy into the AAR (and cv=) from the message itself.
        unfolded = auth_results.replace("\r\n", "")
        stamped = f"{AUTH_RESULTS}: {unfolded}\r\n".encode() + message
    try:
        fields = dkim.arc_sign(
            stamped,
            selector.encode("ascii"),
            domain.encode("ascii"),
            private_key,
            authserv_id.encode("ascii"),
            include_headers=[h.encode("ascii") for h in include_headers]
            if include_headers
            else None,
            timestamp=timestamp,
            logger=_DKIMPY_LOG,
        )
    except (dkim.DKIMException, ValueError, TypeError, LookupError) as exc:
        raise ArcSealError(f"could not seal: {exc}") from exc
    if not fields:
        raise ArcSealError(
            "could not seal: no arc= result for an existing chain in our Authentication-Results"
        )
    return b"".join(fields)
