"""The auth-checker pool: Ray actors that run SPF/DKIM/DMARC/ARC checks for the front-ends.

Each actor owns a caching resolver; the client sends every request for one sender
domain to the same actor, so the pool's caches split the domains between them
instead of each warming up on all of them. Requests are micro-batched: the client
gathers what the SMTP sessions ask for during one event-loop turn and sends it in
one Ray call per actor, not one call per message (DESIGN §7).

Message bytes travel to the checker by value: the check decides whether the message
is accepted at all, so there is no spooled blob yet to refer to (invariant 3 is about
what moves after the spool).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ray

from mairust.auth.checker import AuthChecker, SenderCheck
from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import AuthResults
from mairust.config import Settings

_log = logging.getLogger(__name__)


class AuthCheckerHost:
    """One checker with its own DNS cache; methods take and return batches."""

    def __init__(self, settings: Settings) -> None:
        logging.basicConfig(level=settings.log_level)
        dns = settings.dns
        self._resolver = CachingResolver(
            nameservers=dns.nameservers or None,
            port=dns.port,
            timeout=dns.timeout,
            cache_size=dns.cache_size,
        )
        self._checker = AuthChecker(self._resolver, min_rsa_bits=settings.auth.min_rsa_bits)

    def check_senders(self, requests: Sequence[tuple[str, str, str]]) -> list[SenderCheck]:
        return [self._checker.check_sender(*request) for request in requests]

    def check_messages(self, requests: Sequence[tuple[bytes, SenderCheck]]) -> list[AuthResults]:
        return [self._checker.check_message(message, sender) for message, sender in requests]


# A sync actor runs one batch at a time; a few threads let DNS waits of one batch overlap
# another's work.
AuthCheckerActor = ray.remote(  # type: ignore[call-overload]  # Ray's stubs lack max_concurrency
    num_cpus=0, max_restarts=-1, max_concurrency=4
)(AuthCheckerHost)


@dataclass
class _Batch:
    requests: list[Any]
    futures: list[asyncio.Future[Any]]


class RayAuthService:
    """The core's AuthService over the checker pool, batching per actor.

    A batch leaves at the end of the loop turn in which it was started, unless
    ``max_calls_per_actor`` calls to that actor are still out: then it keeps filling
    until one returns. Under load, batches grow instead of calls multiplying.
    """

    def __init__(self, checkers: Sequence[Any], *, max_calls_per_actor: int = 2) -> None:
        if not checkers:
            raise ValueError("the auth service needs at least one checker actor")
        self._checkers = list(checkers)
        self._max_calls = max_calls_per_actor
        self._pending: dict[tuple[str, int], _Batch] = {}
        self._calls_out: dict[tuple[str, int], int] = {}
        self._scheduled: set[tuple[str, int]] = set()
        self._in_flight: set[asyncio.Future[None]] = set()

    async def check_sender(self, client_ip: str, helo: str, mail_from: str) -> SenderCheck:
        domain = mail_from.rpartition("@")[2] or helo
        result: SenderCheck = await self._submit(
            "check_senders", domain, (client_ip, helo, mail_from)
        )
        return result

    async def check_message(self, message: bytes, sender: SenderCheck) -> AuthResults:
        domain = sender.spf.domain if sender.spf is not None else ""
        result: AuthResults = await self._submit("check_messages", domain, (message, sender))
        return result

    async def _submit(self, method: str, domain: str, request: Any) -> Any:
        index = shard_of(domain, len(self._checkers))
        key = (method, index)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        batch = self._pending.setdefault(key, _Batch([], []))
        batch.requests.append(request)
        batch.futures.append(future)
        self._schedule(key)
        return await future

    def _schedule(self, key: tuple[str, int]) -> None:
        """Send ``key``'s batch after this loop turn, if a call slot is free."""
        if key in self._scheduled or key not in self._pending:
            return
        if self._calls_out.get(key, 0) >= self._max_calls:
            return  # a returning call sends it
        self._scheduled.add(key)
        asyncio.get_running_loop().call_soon(self._send, key)

    def _send(self, key: tuple[str, int]) -> None:
        self._scheduled.discard(key)
        batch = self._pending.pop(key)
        method, index = key
        self._calls_out[key] = self._calls_out.get(key, 0) + 1
        ref = getattr(self._checkers[index], method).remote(batch.requests)
        task = asyncio.ensure_future(self._deliver(key, ref, batch))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, key: tuple[str, int], ref: Any, batch: _Batch) -> None:
        try:
            results = await ref
        except Exception as error:  # the actor died or raised: every waiter hears it
            _log.warning("auth checker call failed: %r", error)
            for future in batch.futures:
                if not future.done():
                    future.set_exception(error)
            return
        finally:
            self._calls_out[key] -= 1
            self._schedule(key)
        for future, result in zip(batch.futures, results, strict=True):
            if not future.done():
                future.set_result(result)


def shard_of(domain: str, count: int) -> int:
    """The checker (0..count-1) that serves ``domain``: stable, case-insensitive."""
    digest = hashlib.blake2b(domain.lower().encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % count
