"""A circuit breaker per plugin: a plugin that keeps failing is not called for a while
(its binding's ``on_error`` verdict stands in), then tried once; a success closes it.

The state is reported (``state``, ``opened``) for the plugin's metrics, log and API:
``on_change`` hears of each opening (again after a failed trial) and each closing.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable

_log = logging.getLogger(__name__)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls are shed
    HALF_OPEN = "half-open"  # one trial call is out


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failures_to_open: int = 5,
        open_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitBreaker], None] | None = None,
    ) -> None:
        if failures_to_open < 1 or open_seconds <= 0:
            raise ValueError("a breaker opens after at least one failure, for some time")
        self.name = name
        self._failures_to_open = failures_to_open
        self._open_seconds = open_seconds
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_out = False
        self.opened = 0  # how many times it opened

    @property
    def open_seconds(self) -> float:
        return self._open_seconds

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._trial_out or self._clock() - self._opened_at >= self._open_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allows(self) -> bool:
        """Whether to call now; in half-open, only the first caller gets the trial."""
        match self.state:
            case BreakerState.CLOSED:
                return True
            case BreakerState.HALF_OPEN if not self._trial_out:
                self._trial_out = True
                return True
        return False

    def succeeded(self) -> None:
        was_open = self._opened_at is not None
        if was_open:
            _log.info("plugin %s answers again: its circuit is closed", self.name)
        self._failures = 0
        self._opened_at = None
        self._trial_out = False
        if was_open and self._on_change is not None:
            self._on_change(self)

    def failed(self) -> None:
        self._failures += 1
        if self._trial_out or (
            self._opened_at is None and self._failures >= self._failures_to_open
        ):
            if not self._trial_out:
                self.opened += 1
                _log.warning(
                    "plugin %s failed %d times in a row: not called for %.0f s",
                    self.name,
                    self._failures,
                    self._open_seconds,
                )
            self._opened_at = self._clock()
            self._trial_out = False
            if self._on_change is not None:
                self._on_change(self)
