"""A short memory of what an authenticated submitter's MAIL and RCPT learned from the
directory, so a client sending one message after another from the same address to remote
domains does not cost two directory reads (and two thread hops) a message.

Two facts are kept, each for ``ttl_seconds`` (``smtp.recipient_cache_seconds``, the route
cache's time; 0 keeps nothing):

- a sender a login may use: the login's tenant owns the sender's domain (only an allowed
  sender is kept; a refusal is always checked again, so a domain added a moment ago is
  usable at once);
- a domain that is not ours: an authenticated submitter's recipient there is relayed
  (only asked for authenticated sessions; an unauthenticated client's recipient in such a
  domain is a refusal, looked up every time, as the route cache does).

Like the route cache, a change made over the API (a mailbox removed, a domain moved to
another tenant or added here) reaches a front-end within ``ttl_seconds``: until then a
submitter may still use a sender it was allowed, and mail to a domain just added here is
relayed to the domain's MX as before. The suppression list is not kept here: a suppression
the delivery loop adds must refuse the next RCPT at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from mairust.model.address import domain_of


class SubmitterCache:
    """Allowed (login, sender domain) pairs and remote domains, each fresh for a TTL."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: OrderedDict[tuple[str, ...], float] = OrderedDict()

    def sender_allowed(self, login: str, sender: str) -> bool:
        """True when ``login`` was allowed to send as ``sender``'s domain within the TTL."""
        return "@" in sender and self._fresh(("sender", login, domain_of(sender)))

    def allow_sender(self, login: str, sender: str) -> None:
        """Remember that ``login`` may use ``sender`` (an address of its tenant's domain)."""
        if "@" in sender:
            self._remember(("sender", login, domain_of(sender)))

    def is_remote(self, domain: str) -> bool:
        """True when ``domain`` was found not to be ours within the TTL."""
        return self._fresh(("remote", domain))

    def remote(self, domain: str) -> None:
        """Remember that ``domain`` is not ours."""
        self._remember(("remote", domain))

    def _fresh(self, key: tuple[str, ...]) -> bool:
        expires = self._expiry.get(key)
        if expires is None:
            return False
        if expires <= self._clock():
            del self._expiry[key]
            return False
        return True

    def _remember(self, key: tuple[str, ...]) -> None:
        if self._ttl <= 0:
            return
        self._expiry[key] = self._clock() + self._ttl
        self._expiry.move_to_end(key)
        while len(self._expiry) > self._max_entries:
            self._expiry.popitem(last=False)
