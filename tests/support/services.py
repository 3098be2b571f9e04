"""Drive the test servers of .ci/services/ from tests: a private instance per fault test,
so that stopping it never disturbs tests that share the session's instances."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / ".ci" / "services"


def required_env(name: str, what: str = "these tests") -> str:
    """The address of a session test server; fails the calling test (never a skip) when the
    services are not running: a skipped backend would pass for a tested one."""
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set, so {what} have no server: "
            "start the test services: make test / .ci/with-services.sh",
            pytrace=False,
        )
    return value


@dataclass
class PrivateService:
    """One server of .ci/services/NAME.sh with its own state directory and port."""

    name: str
    state: Path
    env: dict[str, str]

    @classmethod
    def start(cls, name: str, state: Path) -> PrivateService:
        state.mkdir(parents=True, exist_ok=True)
        os.chmod(state, 0o777)  # PostgreSQL's server user must reach its data directory
        out = _run(name, "start", state, timeout=600)
        env = {}
        for line in out.splitlines():
            key, sep, value = line.partition("=")
            if sep:  # the lines are also sourced by a shell, so values may be quoted
                env[key.strip()] = value.strip().strip("'\"")
        return cls(name, state, env)

    def pause(self) -> None:
        _run(self.name, "pause", self.state, timeout=120)

    def resume(self) -> None:
        _run(self.name, "resume", self.state, timeout=300)

    def stop(self) -> None:
        _run(self.name, "stop", self.state, timeout=120)

    def freeze(self) -> list[int]:
        """SIGSTOP every process of the server: it hangs, its connections stay open (what a
        swapped-out or wedged server looks like to its clients). Returns the pids."""
        pids = self.server_pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    def kill9(self) -> None:
        """SIGKILL every process of the server (a crash: requests in flight are cut);
        :meth:`resume` starts it again on the same port and data."""
        for pid in self.server_pids():
            os.kill(pid, signal.SIGKILL)

    def thaw(self) -> None:
        for pid in self.server_pids():
            os.kill(pid, signal.SIGCONT)

    def server_pids(self) -> list[int]:
        """The server's main process (from its pid file) and all its descendants."""
        pid_file = self.state / "data" / "postmaster.pid" if self.name == "postgres" else None
        pid_file = pid_file or self.state / "pid"
        root = int(pid_file.read_text().split()[0])
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue  # it ended meanwhile
                parents[int(entry.name)] = int(stat[1])
        ours = {root}
        grew = True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in ours} - ours
            ours |= more
            grew = bool(more)
        return sorted(ours)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _run(name: str, action: str, state: Path, timeout: float) -> str:
    result = subprocess.run(
        ["bash", str(SERVICES / f"{name}.sh"), action, str(state)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{name}.sh {action} failed:\n{result.stderr[-3000:]}")
    return result.stdout
