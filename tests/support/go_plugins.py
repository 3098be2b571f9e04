"""The Go plugins for tests: built by the project's own (idempotent, cached) build script,
so a lone ``pytest`` works too; a failed build FAILS the test, never skips it. And the
attachment-policy plugin run as a real process on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / ".ci" / "build-go-plugins.sh"


def build_go_plugins() -> Path:
    """The attachment-policy binary, built (or found built) by .ci/build-go-plugins.sh."""
    built = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=900,
    )
    assert built.returncode == 0, f"the Go plugins did not build:\n{built.stdout}{built.stderr}"
    binary = Path(built.stdout.strip().splitlines()[-1])
    assert binary.is_file() and os.access(binary, os.X_OK), binary
    return binary


@dataclass
class RunningPlugin:
    process: subprocess.Popen[str]
    target: str  # host:port

    def pause(self) -> None:
        """SIGSTOP: it keeps its socket but answers nothing (a hung plugin)."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


@contextmanager
def attachment_policy(binary: Path, token: str | None = None) -> Iterator[RunningPlugin]:
    """The plugin on 127.0.0.1, a free port of its own choosing (it prints which)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTACHMENT_POLICY_")}
    if token is not None:
        env["ATTACHMENT_POLICY_TOKEN"] = token
    process = subprocess.Popen(
        [str(binary), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()  # "listening on 127.0.0.1:PORT"
        assert line.startswith("listening on 127.0.0.1:"), f"the plugin said {line!r}"
        yield RunningPlugin(process, line.removeprefix("listening on "))
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
        process.wait(timeout=10)
