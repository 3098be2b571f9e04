"""Supervision of background loops: a loop that raises is logged and restarted, never lost.

DESIGN §4: a background loop never dies silently. :class:`Supervisor` runs a coroutine
factory until it returns on purpose. An unexpected error is logged with its traceback
and the loop is started again after a capped exponential backoff; a run that lasted
``healthy_after`` seconds resets the backoff. After ``give_up_after`` failures in a row
it stops and raises :class:`LoopGaveUp`, and its host decides what that means (an actor
exits, so that Ray restarts it with fresh connections). The supervisor counts restarts
and keeps the last error and the time of the loop's last progress, for stats and health.

No Ray here: the actors in ``actors/`` wrap it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mairust.errors import MairustError

_log = logging.getLogger(__name__)


class LoopGaveUp(MairustError):
    """A supervised loop failed ``give_up_after`` times in a row; restarting it in place
    does not help."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """When to restart a failed loop, and when to stop trying."""

    first_seconds: float = 0.5
    max_seconds: float = 30.0
    # A run at least this long counts as healthy: the next failure starts the backoff anew.
    healthy_after: float = 60.0
    # Failures in a row (no healthy run between) before LoopGaveUp; None: never give up.
    give_up_after: int | None = None

    def delay(self, failures_in_a_row: int) -> float:
        """Seconds to wait before restart number ``failures_in_a_row`` (1, 2, ...)."""
        exponent = min(max(failures_in_a_row - 1, 0), 32)
        return float(min(self.max_seconds, self.first_seconds * 2**exponent))


@dataclass(frozen=True, slots=True)
class LoopState:
    """What a supervisor knows about its loop (for stats and health reports)."""

    name: str
    running: bool
    gave_up: bool
    restarts: int
    failures_in_a_row: int
    last_error: str | None
    seconds_since_progress: float | None


class Supervisor:
    """Runs ``loop()`` until it returns; restarts it with backoff when it raises."""

    def __init__(
        self,
        name: str,
        loop: Callable[[], Awaitable[None]],
        backoff: Backoff | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._loop = loop
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._stopping = asyncio.Event()
        self._running = False
        self._gave_up = False
        self.restarts = 0
        self._failures_in_a_row = 0
        self.last_error: str | None = None
        self._last_progress: float | None = None

    def progress(self) -> None:
        """The loop did useful work (leased, indexed, forwarded): it is alive."""
        self._last_progress = self._clock()

    def stop(self) -> None:
        """Restart no more; a backoff wait in progress ends at once. The loop itself is
        stopped by its owner (its own stop() or cancelling the task)."""
        self._stopping.set()

    @property
    def state(self) -> LoopState:
        since = None if self._last_progress is None else self._clock() - self._last_progress
        return LoopState(
            name=self.name,
            running=self._running,
            gave_up=self._gave_up,
            restarts=self.restarts,
            failures_in_a_row=self._failures_in_a_row,
            last_error=self.last_error,
            seconds_since_progress=since,
        )

    async def run(self) -> None:
        """Return when the loop returns (or after stop()); raise LoopGaveUp when the
        backoff says so. Cancellation passes through."""
        while not self._stopping.is_set():
            started = self._clock()
            self._running = True
            try:
                await self._loop()
                return
            except Exception as error:  # supervision: every error is logged, then restarted
                self._failed(error, ran_for=self._clock() - started)
            finally:
                self._running = False
            if self._give_up_now():
                self._gave_up = True
                _log.critical(
                    "%s failed %d times in a row; giving up: %s",
                    self.name,
                    self._failures_in_a_row,
                    self.last_error,
                )
                raise LoopGaveUp(f"{self.name}: {self.last_error}")
            delay = self._backoff.delay(self._failures_in_a_row)
            _log.info("%s restarts in %.1f s", self.name, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if not self._stopping.is_set():
                self.restarts += 1

    def _failed(self, error: Exception, ran_for: float) -> None:
        if ran_for >= self._backoff.healthy_after:
            self._failures_in_a_row = 0
        self._failures_in_a_row += 1
        self.last_error = f"{type(error).__name__}: {error}"
        _log.error(
            "%s failed (%d in a row) after %.1f s",
            self.name,
            self._failures_in_a_row,
            ran_for,
            exc_info=error,
        )

    def _give_up_now(self) -> bool:
        limit = self._backoff.give_up_after
        return limit is not None and self._failures_in_a_row >= limit
