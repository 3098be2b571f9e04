"""One-click unsubscribe (RFC 8058, RFC 2369): the signed token in a ``List-Unsubscribe``
link, and the header pair a message carries.

A token names a tenant and one recipient address and when it stops working:
``u1.<base64url JSON [tenant, address, expiry]>.<base64url HMAC-SHA-256>``. Opening it
is all the unsubscribe endpoint needs: it adds that address to that tenant's suppression
list, whatever message the link came in. So a link is made for a message with exactly
one recipient (the send API refuses the option otherwise): a message is committed once
for all its recipients, and a link shared by several would let any of them unsubscribe
the others.

The HMAC key is derived from the API token digest keys (themselves derived from the
master key, ``mairust.secrets.keyring``) under a label of its own, as the search cursors
and callback tokens are, so an unsubscribe key signs nothing else; keys of previous master
keys still verify, so a key rotation does not break the links in mail already sent. The
MAC is compared in constant time, and every refusal is the same :class:`NotAnUnsubscribeToken`
(forged, expired, altered or malformed alike), so a caller learns nothing from which.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mairust.errors import NotFound

VERSION = "u1"
_LABEL = b"mairust/unsubscribe/hmac-sha256/v1"
# An address is at most 254 octets and a tenant id 26 characters: a token is ~450 at most.
MAX_TOKEN_LENGTH = 700
ONE_CLICK = "List-Unsubscribe=One-Click"


class NotAnUnsubscribeToken(NotFound):
    """Not a token this server issued, or no longer valid (one answer for every case)."""

    def __init__(self) -> None:
        super().__init__("no such unsubscribe link (it may have expired)")


@dataclass(frozen=True, slots=True)
class UnsubscribeClaim:
    """What a valid token says: this tenant's mail to this address should stop."""

    tenant_id: str
    address: str
    expires: int  # unix seconds


def unsubscribe_key(token_digest_key: bytes) -> bytes:
    """The unsubscribe HMAC key derived from a token digest key (one purpose, one key)."""
    return hmac.new(token_digest_key, _LABEL, hashlib.sha256).digest()


class UnsubscribeTokens:
    """Issues tokens with ``keys[0]``; accepts any of ``keys``."""

    def __init__(self, keys: Sequence[bytes], *, clock: Callable[[], float] = time.time) -> None:
        if not keys:
            raise ValueError("unsubscribe tokens need a key")
        self._keys = tuple(keys)
        self._clock = clock

    @classmethod
    def from_digest_keys(
        cls, digest_keys: Sequence[bytes], *, clock: Callable[[], float] = time.time
    ) -> UnsubscribeTokens:
        return cls([unsubscribe_key(key) for key in digest_keys], clock=clock)

    def issue(self, tenant_id: str, address: str, lifetime_seconds: float) -> str:
        """A token for ``address`` in ``tenant_id``'s list, valid ``lifetime_seconds``."""
        expires = int(self._clock() + lifetime_seconds)
        claim = [tenant_id, address, expires]
        payload = _b64(json.dumps(claim, ensure_ascii=False, separators=(",", ":")).encode())
        return f"{VERSION}.{payload}.{_b64(_mac(self._keys[0], payload))}"

    def open(self, token: str) -> UnsubscribeClaim:
        """The claim ``token`` makes; NotAnUnsubscribeToken unless this server issued it
        (under a key it still holds) and it has not expired."""
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise NotAnUnsubscribeToken()
        version, _, rest = token.partition(".")
        payload, _, mac = rest.partition(".")
        # Compared as text in the MAC's one encoding (see mairust.services.search_cursors):
        # every key is tried, so the time taken says nothing about which one matched.
        given = mac.encode("ascii", errors="replace")
        sealed = [hmac.compare_digest(given, _b64(_mac(k, payload)).encode()) for k in self._keys]
        if version != VERSION or not any(sealed):
            raise NotAnUnsubscribeToken()
        claim = _claim(payload)
        if self._clock() >= claim.expires:
            raise NotAnUnsubscribeToken()
        return claim


def unsubscribe_headers(link: str) -> tuple[tuple[str, str], ...]:
    """The RFC 8058 pair for a message whose one-click link is ``link`` (an https URL).

    No ``mailto:`` alternative: nothing here reads unsubscribe requests sent by mail, and a
    link that goes nowhere is worse than none."""
    return (("List-Unsubscribe", f"<{link}>"), ("List-Unsubscribe-Post", ONE_CLICK))


def unsubscribe_link(base_url: str, token: str) -> str:
    """The endpoint's URL for ``token`` under the API's public ``base_url``."""
    return f"{base_url.rstrip('/')}/api/v1/unsubscribe/{token}"


def _claim(payload: str) -> UnsubscribeClaim:
    # Signed by us, so well-formed; checked all the same, as a refusal and never a 500.
    try:
        values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        raise NotAnUnsubscribeToken() from None
    match values:
        case [str(tenant), str(address), int(expires)] if tenant and address:
            return UnsubscribeClaim(tenant, address, expires)
    raise NotAnUnsubscribeToken()


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
