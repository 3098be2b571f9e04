"""A short-lived cache of recipient routes, so a busy SMTP edge does not ask the metadata
store (and hop to a thread) for every RCPT of the same few mailboxes.

Only routes that go somewhere (a mailbox, an alias, a routing rule, a catch-all) are
remembered: a refusal (unknown user, not our domain) is always looked up again, so a
mailbox, alias or domain added a moment ago is accepted at once. A mailbox or alias
removed, a rule or catch-all changed, or a domain's policy changed (it travels with the
route) holds for at most ``ttl_seconds``; that is how long a change made over the API
takes to reach every SMTP front-end, with no restart. The pipeline routes every row again
when it delivers, so a message to a mailbox removed meanwhile fails there with 5.1.1
rather than being lost.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from mairust.routing.router import (
    AliasTargets,
    Directory,
    HomeRegions,
    LocalMailbox,
    NotLocal,
    Outbound,
    Route,
    UnknownUser,
    route_recipient,
)

# The routes remembered: those that go somewhere.
Found = LocalMailbox | AliasTargets | Outbound


class RouteCache:
    """``route_recipient`` with a TTL memory of the deliverable routes it found."""

    def __init__(
        self,
        directory: Directory,
        ttl_seconds: float,
        *,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
        homes: HomeRegions | None = None,
    ) -> None:
        self._homes = homes
        self._directory = directory
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._routes: OrderedDict[str, tuple[float, Found]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def cached(self, address: str) -> Found | None:
        """The remembered route of ``address`` if still fresh; never touches the store."""
        found = self._routes.get(address)
        if found is None:
            return None
        expires, route = found
        if expires <= self._clock():
            del self._routes[address]
            return None
        self.hits += 1
        return route

    def route(self, address: str) -> Route:
        """Route ``address``, from memory when fresh, else from the directory (blocking)."""
        cached = self.cached(address)
        if cached is not None:
            return cached
        self.misses += 1
        route = route_recipient(self._directory, address, self._homes)
        if not isinstance(route, UnknownUser | NotLocal) and self._ttl > 0:
            self._routes[address] = (self._clock() + self._ttl, route)
            self._routes.move_to_end(address)
            while len(self._routes) > self._max_entries:
                self._routes.popitem(last=False)
        return route
