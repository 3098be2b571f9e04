"""How long start-up takes, and the waits bounded by its deadline.

Owns the start-up clock (seconds since start-up began, step by step, logged as one line) and
the two waits every start shares: the time left before ``cluster.start_timeout`` runs out,
and ``GET /healthz`` answering 200 through Serve's proxy (``serve.run`` returns before the
proxy routes to the app).
"""

from __future__ import annotations

import logging
import time

import httpx

_log = logging.getLogger(__name__)


class StartClock:
    """Seconds since start-up began, logged per step (DEBUG) and in one line (INFO)."""

    def __init__(self) -> None:
        self._began = time.monotonic()
        self.steps: list[tuple[str, float]] = []

    def elapsed(self) -> float:
        return time.monotonic() - self._began

    def reached(self, step: str) -> None:
        self.steps.append((step, self.elapsed()))
        _log.debug("start-up: %s at %.2f s", step, self.steps[-1][1])

    def summary(self) -> str:
        return ", ".join(f"{step} {at:.1f}" for step, at in self.steps)


def remaining(deadline: float, what: str) -> float:
    """Seconds left before ``deadline`` (``time.monotonic``); TimeoutError naming ``what``."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"{what} did not answer in time (cluster.start_timeout)")
    return left


def wait_for_healthz(api: tuple[str, int], deadline: float) -> None:
    """Poll ``GET /healthz`` until 200: serve.run returns before the proxy routes to the app."""
    host, port = api
    if host in ("", "0.0.0.0"):  # listening everywhere: ask over loopback
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"
    last = "no answer"
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(url)
            except httpx.HTTPError as exc:
                last = repr(exc)
            else:
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            time.sleep(0.05)
    raise TimeoutError(f"GET {url} did not answer 200 in time ({last})")
