"""Search cursors: where the next page of one search starts, sealed to that search.

A cursor carries the backend's position of the last hit of a page (see
:attr:`mairust.model.mailbox.SearchHit.position`) and an HMAC-SHA-256 over that position
and what the search was: the caller's scope, the mailbox asked for, the query's words and
its filters. So a cursor altered by a client, one from another query, or one from another
tenant's (or another mailbox's) search is refused as bad input before any backend sees
it: the position inside can only be one this server handed to this very search, and a
scope can never borrow another's place.

The key is derived from the API token digest keys (a key of its own, by HMAC with a fixed
label): a cursor made before a key rotation still opens while the old key is configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence

from mairust.errors import InvalidInput
from mairust.model.mailbox import SearchPosition
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.model.search_query import SearchQuery

# A cursor holds a score, a time and an entry id, base64url, and its seal: ~200 characters.
MAX_CURSOR_LENGTH = 512
_KEY_LABEL = b"mairust/search-cursors/hmac-sha256/v1"
_VERSION = "s1"
NOT_A_CURSOR = "the cursor is not one of this search's pages (another query or scope, or altered)"


def search_binding(scope: Scope, mailbox_id: str | None, query: SearchQuery) -> bytes:
    """What a cursor is sealed to, as canonical bytes."""
    if isinstance(scope, TenantScope):
        who: list[str | None] = ["tenant", scope.tenant_id, scope.mailbox_id]
    else:
        assert isinstance(scope, PlatformScope)  # a third kind must not share cursors
        who = ["platform"]
    what = [who, mailbox_id, query.text, sorted(query.filters.items())]
    return json.dumps(what, ensure_ascii=False, separators=(",", ":")).encode()


class SearchCursors:
    """Makes and opens cursors; ``digest_keys`` as for the API tokens (current first)."""

    def __init__(self, digest_keys: Sequence[bytes]) -> None:
        if not digest_keys:
            raise ValueError("search cursors need a key")
        self._keys = tuple(
            hmac.new(key, _KEY_LABEL, hashlib.sha256).digest() for key in digest_keys
        )

    def seal(self, binding: bytes, position: SearchPosition) -> str:
        """The cursor of ``position`` in the search described by ``binding``."""
        payload = _b64(json.dumps(list(position), separators=(",", ":")).encode())
        return f"{_VERSION}.{payload}.{_b64(self._mac(self._keys[0], binding, payload))}"

    def open(self, binding: bytes, cursor: str) -> SearchPosition:
        """The position in ``cursor``; InvalidInput unless this server sealed it to
        ``binding``."""
        version, _, rest = cursor.partition(".")
        payload, _, mac = rest.partition(".")
        # Compared as text, with the MAC's one encoding: base64's last character may carry
        # unused bits, and a cursor whose MAC differs only there is not one we sealed.
        given = mac.encode("ascii", errors="replace")
        sealed = any(
            hmac.compare_digest(given, _b64(self._mac(key, binding, payload)).encode())
            for key in self._keys
        )
        if version != _VERSION or not sealed:
            raise InvalidInput(NOT_A_CURSOR)
        # Sealed by us, so well-formed; checked all the same, as bad input and never a 500.
        try:
            values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError):
            raise InvalidInput(NOT_A_CURSOR) from None
        if not isinstance(values, list) or not all(_is_scalar(value) for value in values):
            raise InvalidInput(NOT_A_CURSOR)
        return tuple(values)

    @staticmethod
    def _mac(key: bytes, binding: bytes, payload: str) -> bytes:
        return hmac.new(key, binding + b"\0" + payload.encode(), hashlib.sha256).digest()


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
