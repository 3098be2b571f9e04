"""Waiting for the operator's Ctrl-C or a service manager's SIGTERM.

Owns the foreground wait of ``mairust up`` and ``mairust cluster up``: block until SIGINT or
SIGTERM, doing a little periodic work (``tick``) meanwhile.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

_log = logging.getLogger(__name__)


def wait_for_stop_signal(tick: Callable[[], None] | None = None) -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM; call ``tick`` about once a second meanwhile."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        _log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop.wait(1.0):
        if tick is not None:
            tick()
