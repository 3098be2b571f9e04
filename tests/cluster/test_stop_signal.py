"""The foreground wait returns on SIGTERM and ticks meanwhile."""

from __future__ import annotations

import os
import signal
import threading
import time

from cluster.stop_signal import wait_for_stop_signal


def _restoring_handlers() -> dict[int, object]:
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def test_wait_for_stop_signal_returns_on_sigterm():
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    # Sent once the handlers are in place: wait_for_stop_signal installs them first thing.
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    try:
        started = time.monotonic()
        timer.start()
        wait_for_stop_signal()
        assert time.monotonic() - started < 5
    finally:
        timer.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_the_tick_runs_about_once_a_second_until_the_signal() -> None:
    previous = _restoring_handlers()
    ticks: list[float] = []
    timer = threading.Timer(2.5, os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        wait_for_stop_signal(lambda: ticks.append(time.monotonic()))
        assert 1 <= len(ticks) <= 3
    finally:
        timer.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
