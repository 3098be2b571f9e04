"""The auth-checker pool: Ray actors that run SPF/DKIM/DMARC/ARC checks for the front-ends.

Each actor owns a caching resolver; the client sends every request for one sender
domain to the same actor, so the pool's caches split the domains between them
instead of each warming up on all of them. Requests are micro-batched: the client
gathers what the SMTP sessions ask for during one event-loop turn and sends it in
one Ray call per actor, not one call per message (DESIGN §7).

The pool's members may change while it runs (the pool scaler): ``set_checkers`` gives
the client its new list; domains are spread over the new list at once, and a checker left
out is killed only after the calls it holds have been answered.

Message bytes travel to the checker by value: the check decides whether the message
is accepted at all, so there is no spooled blob yet to refer to (invariant 3 is about
what moves after the spool).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import ray

from actors.named import NamedActor
from mairust.auth.checker import AuthChecker, SenderCheck
from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import AuthResults
from mairust.config import Settings
from mairust.errors import CheckUnavailable
from mairust.log_format import configure_logging
from mairust.micro_batch import KeyedBatcher

_log = logging.getLogger(__name__)


class AuthCheckerHost:
    """One checker with its own DNS cache; methods take and return batches."""

    def __init__(self, settings: Settings) -> None:
        configure_logging(settings.log_level, settings.log_format)
        dns = settings.dns
        self._resolver = CachingResolver.from_settings(dns)
        self._checker = AuthChecker(self._resolver, min_rsa_bits=settings.auth.min_rsa_bits)
        # Calls running now (a few threads run at once): the pool scaler kills a checker
        # it retires only once this is 0.
        self._running = 0
        self._running_lock = threading.Lock()

    def check_senders(self, requests: Sequence[tuple[str, str, str]]) -> list[SenderCheck]:
        with self._counted():
            return [self._checker.check_sender(*request) for request in requests]

    def check_messages(self, requests: Sequence[tuple[bytes, SenderCheck]]) -> list[AuthResults]:
        with self._counted():
            return [self._checker.check_message(message, sender) for message, sender in requests]

    def calls_in_progress(self) -> int:
        return self._running

    def node_id(self) -> str:
        return str(ray.get_runtime_context().get_node_id())

    def ping(self) -> int:
        return os.getpid()

    @contextlib.contextmanager
    def _counted(self) -> Iterator[None]:
        with self._running_lock:
            self._running += 1
        try:
            yield
        finally:
            with self._running_lock:
                self._running -= 1


# A sync actor runs one batch at a time; a few threads let DNS waits of one batch overlap
# another's work.
AuthCheckerActor = ray.remote(  # type: ignore[call-overload]  # Ray's stubs lack max_concurrency
    num_cpus=0, max_restarts=-1, max_concurrency=4
)(AuthCheckerHost)


class RayAuthService:
    """The core's AuthService over the checker pool, batching per actor (the core's
    :class:`~mairust.micro_batch.KeyedBatcher`, keyed by method and actor). A checker
    that cannot answer (dead, restarting, raising) is a ``CheckUnavailable``."""

    def __init__(self, checkers: Sequence[Any], *, max_calls_per_actor: int = 2) -> None:
        # Every checker ever given, by position: a batch's key names its checker by that
        # position, so a batch formed before set_checkers still reaches its checker.
        self._known: list[Any] = []
        self._rotation: list[int] = []
        self.set_checkers(checkers)
        self._batches: KeyedBatcher[tuple[str, int], Any, Any] = KeyedBatcher(
            self._call, max_calls_per_key=max_calls_per_actor
        )
        # Requests submitted and not answered yet (the pool scaler's measure of load).
        self.outstanding = 0

    def set_checkers(self, checkers: Sequence[Any]) -> None:
        """The checkers from now on (the same objects, or ``NamedActor``s of the same
        names, are known again); the domains are spread over them at once."""
        if not checkers:
            raise ValueError("the auth service needs at least one checker actor")
        rotation = []
        for checker in checkers:
            position = self._position(checker)
            if position is None:
                self._known.append(checker)
                position = len(self._known) - 1
            rotation.append(position)
        self._rotation = rotation

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
        key = (method, self._rotation[shard_of(domain, len(self._rotation))])
        self.outstanding += 1
        try:
            return await self._batches.submit(key, request)
        finally:
            self.outstanding -= 1

    def _position(self, checker: Any) -> int | None:
        name = getattr(checker, "name", None) if isinstance(checker, NamedActor) else None
        for position, known in enumerate(self._known):
            if known is checker or (name is not None and getattr(known, "name", None) == name):
                return position
        return None

    async def _call(self, key: tuple[str, int], requests: list[Any]) -> list[Any]:
        method, index = key
        try:
            results: list[Any] = await getattr(self._known[index], method).remote(requests)
        except ray.exceptions.RayError as error:
            _log.warning("auth checker %d did not answer: %r", index, error)
            raise CheckUnavailable(f"auth checker {index} did not answer") from error
        return results


def shard_of(domain: str, count: int) -> int:
    """The checker (0..count-1) that serves ``domain``: stable, case-insensitive."""
    digest = hashlib.blake2b(domain.lower().encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % count
