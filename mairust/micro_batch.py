"""A keyed micro-batcher: many small async requests become few calls, one batch per key.

A batch leaves at the end of the event-loop turn in which it was started, unless
``max_calls_per_key`` calls for its key are still out: then it keeps filling until one
returns. Under load batches grow instead of calls multiplying; idle, a request waits for no
timer. The call itself is injected (a Ray actor method, a Serve deployment, a thread), so
this stays free of any transport; the auth checks use it, and the hook client will.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

_log = logging.getLogger(__name__)

Key = TypeVar("Key", bound=Hashable)
Request = TypeVar("Request")
Result = TypeVar("Result")


@dataclass
class _Batch(Generic[Request, Result]):
    requests: list[Request] = field(default_factory=list)
    futures: list[asyncio.Future[Result]] = field(default_factory=list)


class KeyedBatcher(Generic[Key, Request, Result]):
    """``submit(key, request)`` answers with ``call(key, [requests...])``'s result for it.

    ``call`` returns one result per request, in order; if it raises, every request of the
    batch raises the same error.
    """

    def __init__(
        self,
        call: Callable[[Key, list[Request]], Awaitable[Sequence[Result]]],
        *,
        max_calls_per_key: int = 2,
    ) -> None:
        if max_calls_per_key < 1:
            raise ValueError("a batcher needs at least one call per key")
        self._call = call
        self._max_calls = max_calls_per_key
        self._pending: dict[Key, _Batch[Request, Result]] = {}
        self._calls_out: dict[Key, int] = {}
        self._scheduled: set[Key] = set()
        self._in_flight: set[asyncio.Task[None]] = set()
        self.calls = 0

    async def submit(self, key: Key, request: Request) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        batch = self._pending.setdefault(key, _Batch())
        batch.requests.append(request)
        batch.futures.append(future)
        self._schedule(key)
        return await future

    def _schedule(self, key: Key) -> None:
        """Send ``key``'s batch after this loop turn, if a call slot is free."""
        if key in self._scheduled or key not in self._pending:
            return
        if self._calls_out.get(key, 0) >= self._max_calls:
            return  # a returning call sends it
        self._scheduled.add(key)
        asyncio.get_running_loop().call_soon(self._send, key)

    def _send(self, key: Key) -> None:
        self._scheduled.discard(key)
        batch = self._pending.pop(key)
        self._calls_out[key] = self._calls_out.get(key, 0) + 1
        self.calls += 1
        task = asyncio.ensure_future(self._deliver(key, batch))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, key: Key, batch: _Batch[Request, Result]) -> None:
        try:
            results = await self._call(key, batch.requests)
            if len(results) != len(batch.requests):
                raise RuntimeError(
                    f"a batch call answered {len(results)} results for {len(batch.requests)}"
                )
        except Exception as error:  # every waiter of the batch hears it
            _log.debug("batch call for %r failed: %r", key, error)
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
