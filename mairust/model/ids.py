"""Identifiers: sortable, unique, URL-safe (ULID layout, Crockford base32)."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now_ms: int | None = None) -> str:
    """A 26-character id: 48 bits of milliseconds then 80 random bits, so ids sort by time."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    return _encoded((millis << 80) | int.from_bytes(os.urandom(10), "big"))


def first_id_at(at_ms: int) -> str:
    """The smallest id of millisecond ``at_ms``: every id made before it sorts lower."""
    return _encoded(at_ms << 80)


def _encoded(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
