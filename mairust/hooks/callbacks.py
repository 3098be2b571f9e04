"""Callback tokens: a plugin that answers a ``post_receive`` job later proves with its
job's token that the answer is for that job, and in time.

A token is ``<expiry unix seconds>.<base64url HMAC-SHA-256 over "job id.expiry">``. The
HMAC key is derived from the server's token digest key (itself derived from the master
key, ``mairust.secrets.keyring``) under a label of its own, so a callback key signs
nothing else; keys of previous master keys still verify, so a key rotation does not
strand the jobs waiting. A token binds its job: used for another job it is forged. That a
token is used once is the job's state (a finished job refuses it), not the token's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence

from mairust.errors import Forbidden, Unauthenticated

_LABEL = b"mairust/hook-callbacks/hmac-sha256/v1"


class CallbackExpired(Unauthenticated):
    """The token was good, and its time is over."""


class CallbackForged(Forbidden):
    """The token was not issued for this job by this server."""


def callback_key(token_digest_key: bytes) -> bytes:
    """The callback HMAC key derived from a token digest key (one purpose, one key)."""
    return hmac.new(token_digest_key, _LABEL, hashlib.sha256).digest()


class CallbackTokens:
    """Issues tokens with ``keys[0]``; accepts any of ``keys``."""

    def __init__(self, keys: Sequence[bytes], *, clock: Callable[[], float] = time.time) -> None:
        if not keys:
            raise ValueError("callback tokens need a key")
        self._keys = tuple(keys)
        self._clock = clock

    @classmethod
    def from_digest_keys(cls, digest_keys: Sequence[bytes]) -> CallbackTokens:
        return cls([callback_key(key) for key in digest_keys])

    def issue(self, job_id: str, lifetime_seconds: float) -> tuple[str, int]:
        """A token for ``job_id`` valid ``lifetime_seconds`` from now, and its expiry."""
        expires = int(self._clock() + lifetime_seconds)
        return f"{expires}.{_mac(self._keys[0], job_id, expires)}", expires

    def check(self, job_id: str, token: str | None) -> int:
        """The token's expiry if it is ``job_id``'s and still valid. Unauthenticated when
        missing, malformed or expired (CallbackExpired); CallbackForged when not ours."""
        if not token:
            raise Unauthenticated("a callback needs its job's token")
        expiry, _, mac = token.partition(".")
        if not expiry.isdigit() or not mac or len(expiry) > 12:
            raise Unauthenticated("the callback token is malformed")
        expires = int(expiry)
        if not any(hmac.compare_digest(_mac(key, job_id, expires), mac) for key in self._keys):
            raise CallbackForged("the callback token was not issued for this job")
        if self._clock() >= expires:
            raise CallbackExpired("the callback token has expired")
        return expires


def _mac(key: bytes, job_id: str, expires: int) -> str:
    digest = hmac.new(key, f"{job_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
