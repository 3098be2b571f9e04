"""Following a running ``mairust cluster up``: its output kept line by line, and the moment
it says it is up (the benchmark and the multi-node tests both start one as a subprocess)."""

from __future__ import annotations

import subprocess
import threading

READY_LINE = "MaiRust is up on the Ray cluster"


def follow_output(process: subprocess.Popen[str], output: list[str]) -> threading.Event:
    """Append each line ``process`` prints to ``output`` from a daemon thread; the event is
    set at the ready line, or when the output ends (the process died before it)."""
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if READY_LINE in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    return ready
