"""The ``pre_delivery`` hook point for the synchronous pipeline.

The pipeline runs in a worker thread; the hook runtime (``mairust.hooks.runtime``) is
async. :class:`DeliveryHooks` owns a small event loop in a thread of its own and runs the
point's chains on it, one per recipient row, all rows of a batch at once, and waits for
them at most the ``[hooks]`` deadline (plus a short margin for reading the bindings).

Nothing is built until it is needed: the bindings of ``pre_delivery`` are read from the
store (kept ``hooks.bindings_cache_seconds``), and only when there are some are the
runtime (its HTTP client) and the loop thread made. A pipeline with no ``pre_delivery``
binding pays one cached look-up per batch.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Protocol

from mairust.config import HooksSettings
from mairust.errors import CheckUnavailable, StorageUnavailable
from mairust.hooks.chain import ChainResult
from mairust.hooks.points import HookPoint
from mairust.model.message import Envelope

_log = logging.getLogger(__name__)

# Beyond the chain's own deadline: reading the bindings and building the requests.
MARGIN_SECONDS = 2.0


class PointRunner(Protocol):
    """What the bridge needs of a hook runtime (``HookRuntime`` is one)."""

    async def run(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None = None,
        *,
        tenants: Collection[str] = (),
        message_id: str | None = None,
    ) -> ChainResult: ...

    async def aclose(self) -> None: ...


class BindingLookup(Protocol):
    """What the bridge reads of the plugin store (``PluginStore`` is one)."""

    def active_bindings(self, point: str) -> Sequence[object]: ...


@dataclass(frozen=True, slots=True)
class RowCall:
    """One recipient row's question to the point."""

    envelope: Envelope
    message: bytes
    tenants: tuple[str, ...]
    message_id: str


class DeliveryHooks:
    def __init__(
        self,
        store: BindingLookup,
        settings: HooksSettings,
        runtime_factory: Callable[[], PointRunner],
        *,
        clock: Callable[[], float] = time.monotonic,
        margin_seconds: float = MARGIN_SECONDS,
    ) -> None:
        """``runtime_factory`` is called once, on the loop, when a binding first exists;
        a batch waits at most ``deadline_seconds + margin_seconds``."""
        self._margin = margin_seconds
        self._store = store
        self._settings = settings
        self._factory = runtime_factory
        self._clock = clock
        self._read: tuple[float, bool] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runtime: PointRunner | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        """Whether the runtime and its loop were built (a binding was seen)."""
        return self._runtime is not None

    def bound(self) -> bool:
        """Whether ``pre_delivery`` has any active binding; CheckUnavailable when the
        store cannot say and never said (the rows wait, never "no hooks, go on")."""
        now = self._clock()
        if self._read is not None and now - self._read[0] < self._settings.bindings_cache_seconds:
            return self._read[1]
        try:
            any_bound = bool(self._store.active_bindings(HookPoint.PRE_DELIVERY.value))
        except StorageUnavailable as error:
            if self._read is not None:
                _log.warning("pre_delivery bindings not read again (%s): using the last", error)
                return self._read[1]
            raise CheckUnavailable("the pre_delivery bindings cannot be read") from error
        self._read = (now, any_bound)
        return any_bound

    def decide(self, calls: Sequence[RowCall]) -> list[ChainResult | BaseException]:
        """Each row's chain result (or the exception its run raised), in order; raises
        CheckUnavailable when the whole batch did not finish in time."""
        loop, runtime = self._started()

        async def every() -> list[ChainResult | BaseException]:
            runs = [
                runtime.run(
                    HookPoint.PRE_DELIVERY,
                    call.envelope,
                    call.message,
                    tenants=call.tenants,
                    message_id=call.message_id,
                )
                for call in calls
            ]
            return await asyncio.gather(*runs, return_exceptions=True)

        future = asyncio.run_coroutine_threadsafe(every(), loop)
        limit = self._settings.deadline_seconds + self._margin
        try:
            return future.result(timeout=limit)
        except FutureTimeout as error:
            future.cancel()
            raise CheckUnavailable(f"the pre_delivery hooks took more than {limit:g}s") from error

    def close(self) -> None:
        """Record the calls not yet recorded and stop the loop (a graceful stop)."""
        with self._lock:
            loop, runtime, thread = self._loop, self._runtime, self._thread
            self._loop = self._runtime = self._thread = None
        if loop is None or thread is None:
            return
        if runtime is not None:
            try:
                asyncio.run_coroutine_threadsafe(runtime.aclose(), loop).result(timeout=10)
            except Exception:  # a stop must finish: what is lost is bookkeeping
                _log.exception("pre_delivery hook calls not recorded at stop")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

    def _started(self) -> tuple[asyncio.AbstractEventLoop, PointRunner]:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="pre-delivery-hooks", daemon=True
                )
                self._thread.start()
            if self._runtime is None:

                async def build() -> PointRunner:
                    # Built on its loop: the HTTP client belongs to the loop it runs on.
                    return self._factory()

                self._runtime = asyncio.run_coroutine_threadsafe(build(), self._loop).result()
            return self._loop, self._runtime
