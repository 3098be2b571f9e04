"""How many AUTH failures a connection and a client address may make (password guessing).

A connection may fail ``max_per_connection`` times: the last failure is answered, after a
tarpit delay, with ``421 4.7.0`` and the connection is closed. A client address that has
failed ``max_per_ip`` times within ``window`` seconds, over any number of connections, gets
the same delay, ``421`` and close at its next AUTH, without its credentials being checked.

The per-address count lives in the front-end's process (one front-end per node): a client
that spreads its attempts over several nodes gets an allowance on each. Memory is bounded:
at most ``max_clients`` addresses are remembered, the least recently failing forgotten
first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from mairust.config import SmtpSettings


class AuthFailureCounter:
    """AUTH failures per client address in a sliding window; ``clock`` is injectable."""

    def __init__(
        self,
        max_per_ip: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        self._max = max_per_ip
        self._window = window
        self._clock = clock
        self._max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked(self, client_ip: str) -> bool:
        """Whether ``client_ip`` has used up its failures in the current window."""
        failures = self._failures.get(client_ip)
        if failures is None:
            return False
        self._expire(failures)
        if not failures:
            del self._failures[client_ip]
            return False
        return len(failures) >= self._max

    def record(self, client_ip: str) -> None:
        """One more failure of ``client_ip``, now."""
        failures = self._failures.get(client_ip)
        if failures is None:
            # Only the last max_per_ip failures matter for the decision.
            failures = self._failures[client_ip] = deque(maxlen=self._max)
            if len(self._failures) > self._max_clients:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(client_ip)
        failures.append(self._clock())

    def _expire(self, failures: deque[float]) -> None:
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()


@dataclass(slots=True)
class AuthLimits:
    """What a session needs to apply the limits: shared by all sessions of a front-end."""

    max_per_connection: int
    delay: float
    per_ip: AuthFailureCounter = field(repr=False)

    @classmethod
    def of(cls, settings: SmtpSettings, clock: Callable[[], float] = time.monotonic) -> AuthLimits:
        return cls(
            settings.max_auth_failures,
            settings.auth_failure_delay,
            AuthFailureCounter(
                settings.max_auth_failures_per_ip, settings.auth_failure_window, clock
            ),
        )
