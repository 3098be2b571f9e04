"""SRS (the Sender Rewriting Scheme): the envelope sender of mail we forward, rewritten so SPF
holds at the next hop, and the way back for the bounces that come to it.

The format is libsrs2's "guarded" scheme, which postsrsd speaks (and Postfix sites with it):

- ``SRS0=HHHH=TT=orig-domain=orig-local@our-domain`` for a sender we are the first to
  forward: ``HHHH`` is the first 4 characters of base64(HMAC-SHA1(secret, lower-cased
  TT + orig-domain + orig-local)), ``TT`` the day number (Unix time / 86400) modulo 1024 in
  two characters of the base32 alphabet ``A-Z2-7``.
- ``SRS1=HHHH=first-hop-domain==opaque@our-domain`` for a sender that is already another
  site's SRS0 (or SRS1) address: bounces go back to that first hop, which alone can open its
  own SRS0 part; ``HHHH`` covers first-hop-domain + ``=opaque``.

Reversing checks the hash against every secret (the current one and those of earlier
master keys, so a key rotation does not strand bounces in flight) and, for SRS0, that the
day stamp is at most ``max_age_days`` old. libsrs2 compares hashes case-insensitively
(mail systems upper- or lower-case local parts), and so do we. A hash must have the full
length: a shorter one would be easier to guess. The null sender is never rewritten; nor
is a sender of the SRS domain itself (postsrsd's rule: it needs no new return path).

No library: the package index has ``srslib`` (a beta from 2017-2024 whose reverse accepts
a hash as short as one character, guessable one time in 32) and ``pysrs`` (2018); the
scheme is some sixty lines.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mairust.errors import MairustError

HASH_LENGTH = 4  # libsrs2's and postsrsd's default
DEFAULT_MAX_AGE_DAYS = 21  # libsrs2's default
_DAY = 86400
_SLOTS = 1024  # the day stamp wraps every 1024 days (two base32 characters)
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_SEPARATORS = "=+-"  # what libsrs2 accepts after the SRS0/SRS1 tag; we write "="
# RFC 5321 §4.5.3.1.3: a reverse path is at most 256 octets, brackets included.
MAX_PATH_OCTETS = 254


class SrsError(MairustError):
    """An address SRS cannot rewrite or reverse; ``str()`` says why (no secret in it)."""


class NotSrsAddress(SrsError):
    """Reversing an address that has no SRS0/SRS1 form."""


class InvalidSrsAddress(SrsError):
    """An SRS address we refuse: malformed, a wrong hash, or a stale day stamp."""


def is_srs_address(address: str) -> bool:
    """True when the local part has the SRS0 or SRS1 form (any case), whoever made it."""
    local = address.rpartition("@")[0]
    return len(local) > 4 and local[:4].upper() in ("SRS0", "SRS1") and local[4] in _SEPARATORS


@dataclass(frozen=True)
class Srs:
    """Forward and reverse SRS addresses under ``secrets`` (the first makes new hashes;
    every one is accepted when reversing)."""

    secrets: Sequence[bytes] = field(repr=False)
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not self.secrets or any(not secret for secret in self.secrets):
            raise ValueError("SRS needs at least one non-empty secret")
        if not 0 < self.max_age_days < _SLOTS:
            raise ValueError(f"max_age_days must be 1..{_SLOTS - 1}")

    def forward(self, sender: str, our_domain: str) -> str:
        """The return path for mail from ``sender`` that we forward as ``our_domain``.

        ``""`` and ``"<>"`` (the null sender), a sender without a domain and one of
        ``our_domain`` come back as they are. Raises InvalidSrsAddress when the rewritten
        path would be longer than SMTP allows."""
        local, at, domain = sender.rpartition("@")
        if not at or not local or not domain or domain.lower() == our_domain.lower():
            return sender
        tag, rest = local[:4].upper(), local[5:]
        if is_srs_address(sender) and tag == "SRS1":
            # Someone else's SRS1: keep its first hop and opaque part, hash them anew.
            _, first_host, opaque = _split(rest, 3, "SRS1")
            if not opaque.startswith(tuple(_SEPARATORS)):
                raise InvalidSrsAddress("SRS1 address without an opaque part")
            rewritten = self._srs1(first_host, opaque, our_domain)
        elif is_srs_address(sender):
            # Someone else's SRS0: bounces go back through them (only they can open it).
            rewritten = self._srs1(domain, local[4:], our_domain)
        else:
            stamp = _stamp(self._day())
            hashed = self._hash(self.secrets[0], stamp, domain, local)
            rewritten = f"SRS0={hashed}={stamp}={domain}={local}@{our_domain}"
        if len(rewritten.encode("utf-8")) > MAX_PATH_OCTETS:
            raise InvalidSrsAddress("the rewritten sender would be too long for SMTP")
        return rewritten

    def reverse(self, address: str) -> str:
        """The address a bounce to the SRS ``address`` goes back to: the original sender
        (SRS0), or the first hop's SRS0 address (SRS1). Raises NotSrsAddress or
        InvalidSrsAddress (a malformed address, a wrong hash, a stale day stamp)."""
        local = address.rpartition("@")[0]
        if not is_srs_address(address):
            raise NotSrsAddress("not an SRS address")
        if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in local):
            raise InvalidSrsAddress("SRS address with spaces or control characters")
        tag, rest = local[:4].upper(), local[5:]
        if tag == "SRS1":
            hash_, host, opaque = _split(rest, 3, "SRS1")
            if not opaque.startswith(tuple(_SEPARATORS)) or len(opaque) < 2:
                raise InvalidSrsAddress("SRS1 address without an opaque part")
            if "@" in host or "@" in opaque:
                raise InvalidSrsAddress("SRS1 address with an @ inside")
            self._check_hash(hash_, host, opaque)
            return f"SRS0{opaque}@{host}"
        hash_, stamp, host, user = _split(rest, 4, "SRS0")
        if "@" in host or "@" in user:
            raise InvalidSrsAddress("SRS0 address with an @ inside")
        self._check_hash(hash_, stamp, host, user)
        self._check_stamp(stamp)
        return f"{user}@{host}"

    def _srs1(self, first_host: str, opaque: str, our_domain: str) -> str:
        hashed = self._hash(self.secrets[0], first_host, opaque)
        return f"SRS1={hashed}={first_host}={opaque}@{our_domain}"

    def _day(self) -> int:
        return int(self.clock() // _DAY)

    @staticmethod
    def _hash(secret: bytes, *parts: str) -> str:
        # libsrs2 lower-cases what it hashes, so a case-mangled address still reverses.
        data = "".join(parts).lower().encode("utf-8", "surrogateescape")
        digest = hmac.new(secret, data, hashlib.sha1).digest()
        return base64.b64encode(digest)[:HASH_LENGTH].decode("ascii")

    def _check_hash(self, given: str, *parts: str) -> None:
        if len(given) != HASH_LENGTH or not set(given) <= _BASE64:
            raise InvalidSrsAddress("SRS address with a malformed hash")
        for secret in self.secrets:
            expected = self._hash(secret, *parts)
            if hmac.compare_digest(given.lower().encode(), expected.lower().encode()):
                return
        raise InvalidSrsAddress("SRS address with a wrong hash")

    def _check_stamp(self, stamp: str) -> None:
        then = _unstamp(stamp)
        now = self._day() % _SLOTS
        if now < then:
            now += _SLOTS  # the stamp is from before the last wrap (or from the future)
        if now - then > self.max_age_days:
            raise InvalidSrsAddress("SRS address too old (or from the future)")


def _stamp(day: int) -> str:
    return _BASE32[(day >> 5) & 31] + _BASE32[day & 31]


def _unstamp(stamp: str) -> int:
    upper = stamp.upper()
    if len(upper) != 2 or any(ch not in _BASE32 for ch in upper):
        raise InvalidSrsAddress("SRS0 address with a malformed day stamp")
    return (_BASE32.index(upper[0]) << 5) | _BASE32.index(upper[1])


def _split(rest: str, count: int, tag: str) -> list[str]:
    """``rest`` (after the tag and separator) cut at its first ``count - 1`` "=" signs;
    every part must be there and not empty (the last keeps any further "=")."""
    parts = rest.split("=", count - 1)
    if len(parts) != count or any(not part for part in parts):
        raise InvalidSrsAddress(f"{tag} address with a part missing")
    return parts
