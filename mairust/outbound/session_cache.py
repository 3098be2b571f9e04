"""Idle SMTP sessions kept open for the next batch to the same destination (Postfix's
connection cache, KumoMTA's idle connections): a delivery loop leases in rounds, and
without this each round would pay a new TCP connection, EHLO and STARTTLS per destination.

A session is kept for at most ``idle_seconds`` after its last message and carries at
most ``max_messages`` in its life; one taken from the cache is checked with a RSET first
(``SmtpSession.still_usable``). The delivery loop calls :meth:`close_idle` each round, so
nothing stays open past its time however quiet the queue gets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from mairust.outbound.smtp_client import SmtpSession


@dataclass(slots=True)
class CachedSession:
    session: SmtpSession
    sent: int  # messages this session has carried
    idle_since: float


class SessionCache:
    def __init__(
        self,
        idle_seconds: float,
        max_messages: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_seconds = idle_seconds
        self.max_messages = max_messages
        self._clock = clock
        self._idle: dict[Hashable, list[CachedSession]] = {}
        self.reused = 0

    async def take(self, key: Hashable) -> CachedSession | None:
        """An idle session for ``key`` that still answers, or None."""
        await self.close_idle()
        waiting = self._idle.get(key)
        while waiting:
            cached = waiting.pop()
            if await cached.session.still_usable():
                self.reused += 1
                return cached
        return None

    async def give(self, key: Hashable, session: SmtpSession, sent: int) -> None:
        """Keep ``session`` for ``key`` if it may carry more, else close it."""
        if self.idle_seconds <= 0 or sent >= self.max_messages or not session.usable:
            await session.close()
            return
        self._idle.setdefault(key, []).append(CachedSession(session, sent, self._clock()))

    async def close_idle(self) -> None:
        """Close the sessions idle for longer than ``idle_seconds``."""
        now = self._clock()
        expired: list[CachedSession] = []
        # Taken out of the table before any await: other sessions' batches use the table
        # while these close.
        for key, waiting in list(self._idle.items()):
            keep = [c for c in waiting if now - c.idle_since < self.idle_seconds]
            expired += [c for c in waiting if c not in keep]
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
        for cached in expired:
            await cached.session.close()

    async def aclose(self) -> None:
        """Close every idle session (a delivery loop stopping)."""
        sessions = [c.session for waiting in self._idle.values() for c in waiting]
        self._idle.clear()
        for session in sessions:
            await session.close()

    def __len__(self) -> int:
        return sum(len(waiting) for waiting in self._idle.values())
