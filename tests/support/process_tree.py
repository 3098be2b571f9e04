"""Every process of one `mairust up`, Ray's included, found in /proc; kill -9 of them at once.

Ray starts its GCS, raylet and helpers as children of the driver, and the raylet starts the
workers (every actor) in process groups of their own: a kill of the driver's process group
leaves them running for tens of seconds, still writing to the stores. So a process counts
as ours when any of these ties it to the driver:

- it is in the driver's session, or a descendant of a process that is ours;
- its command line names the driver's Ray session directory (``session_<time>_<driver pid>``,
  which the GCS, raylet, monitor and log monitor all carry);
- its environment says ``RAY_RAYLET_PID=<one of our raylets>`` (every Ray worker), which
  stays true when the worker left the session or its raylet died before it.

Nothing here ever touches a process tied to another driver (another test's Ray).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class _Proc:
    pid: int
    ppid: int
    sid: int
    cmdline: str
    raylet_pid: int | None  # RAY_RAYLET_PID from its environment


def _read(pid: int) -> _Proc | None:
    base = Path("/proc") / str(pid)
    try:
        stat = (base / "stat").read_text().rsplit(")", 1)[1].split()
        if stat[0] in ("Z", "X"):  # a zombie is dead already; only its parent's wait is left
            return None
        cmdline = (base / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        raylet_pid = None
        with contextlib.suppress(OSError):  # kernel threads, processes of other users
            for entry in (base / "environ").read_bytes().split(b"\0"):
                if entry.startswith(b"RAY_RAYLET_PID="):
                    raylet_pid = int(entry.split(b"=", 1)[1] or 0)
    except (OSError, ValueError, IndexError):
        return None  # it ended while we looked
    return _Proc(pid, int(stat[1]), int(stat[3]), cmdline, raylet_pid)


def _all_processes() -> list[_Proc]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            proc = _read(int(entry))
            if proc is not None:
                found.append(proc)
    return found


@dataclass
class ProcessTree:
    """The processes of the driver ``root`` (started in a session of its own)."""

    root: int
    # Raylets seen so far: their workers stay ours after the raylet itself died.
    raylets: set[int] = field(default_factory=set)

    def pids(self) -> set[int]:
        processes = _all_processes()
        session_dir = re.compile(rf"/session_[0-9_-]+_{self.root}(?![0-9])")
        ours = {p.pid for p in processes if p.sid == self.root or p.pid == self.root}
        ours |= {p.pid for p in processes if session_dir.search(p.cmdline)}
        self.raylets |= {p.pid for p in processes if p.pid in ours and "raylet" in p.cmdline}
        grew = True
        while grew:
            before = len(ours)
            ours |= {
                p.pid
                for p in processes
                if p.ppid in ours or (p.raylet_pid is not None and p.raylet_pid in self.raylets)
            }
            grew = len(ours) > before
        return ours

    def kill9(
        self,
        while_frozen: Callable[[], bool] | None = None,
        tries: int = 1,
        between: float = 0.05,
    ) -> int:
        """SIGKILL every process at once; returns how many there were (0 if no try did).

        Each is stopped (SIGSTOP) first, then looked for again until no new one appears, so
        no process sees another die and reacts (a raylet starting a worker, a worker
        finishing a write): from the processes' side this is one instant.
        ``while_frozen`` runs while everything is stopped and says whether this instant is
        the one to kill at (work in flight, say); if not, everything runs on (SIGCONT) for
        ``between`` seconds and the next of ``tries`` freezes it again.
        """
        for attempt in range(tries):
            stopped = self._freeze()
            chosen = True
            try:
                chosen = while_frozen is None or while_frozen() or attempt == tries - 1
            finally:
                signal_to_send = signal.SIGKILL if chosen else signal.SIGCONT
                for pid in stopped:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal_to_send)
            if chosen:
                return len(stopped)
            time.sleep(between)
        return 0

    def _freeze(self) -> set[int]:
        stopped: set[int] = set()
        for _ in range(50):
            new = self.pids() - stopped
            if not new:
                break
            for pid in new:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            stopped |= new
        return stopped

    def wait_gone(self, timeout: float) -> set[int]:
        """Kill stragglers until none is left; returns those still alive at ``timeout``."""
        deadline = time.monotonic() + timeout
        left = self.pids()
        while left and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            left = self.pids()
        return left
