"""Runs `mairust up` as a real subprocess on free loopback ports, for e2e scenarios."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from load.targets import free_loopback_port
from mairust.config import load_settings
from tests.support.process_tree import ProcessTree
from tests.support.s3_buckets import object_names

VENV_BIN = Path(sys.executable).parent
MAIRUST = str(VENV_BIN / "mairust")
ADMIN_TOKEN = "e2e-admin-token"
READY_LINE = "MaiRust is up"


def free_port() -> int:
    """A loopback port for a server started later, out of the range the OS picks from."""
    return free_loopback_port()


@dataclass
class MairustServer:
    data_dir: Path
    config: Path | None = None
    domains: tuple[str, ...] = ("example.test",)
    smtp_port: int = field(default_factory=free_port)
    submission_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)
    tree: ProcessTree | None = None
    # The `mairust` command to run, where and with what more in its environment: another
    # release's code (tests.support.previous_release) runs from its own tree.
    program: tuple[str, ...] = (MAIRUST,)
    cwd: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MAIRUST_ADMIN_TOKEN"] = ADMIN_TOKEN
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 180.0) -> None:
        args = [
            *self.program,
            "up",
            "--data-dir",
            str(self.data_dir),
            "--smtp-port",
            str(self.smtp_port),
            "--submission-port",
            str(self.submission_port),
            "--api-port",
            str(self.api_port),
        ]
        for domain in self.domains:
            args += ["--domain", domain]
        if self.config is not None:
            args += ["--config", str(self.config)]
        self.output = []
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        self.tree = ProcessTree(self.proc.pid)
        ready = threading.Event()
        threading.Thread(target=self._read_output, args=(ready,), daemon=True).start()
        if not ready.wait(timeout):
            self.kill9()
            raise RuntimeError("mairust up did not come up:\n" + "".join(self.output[-80:]))
        if self.proc.poll() is not None:
            raise RuntimeError("mairust up exited:\n" + "".join(self.output[-80:]))

    def _read_output(self, ready: threading.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if READY_LINE in line:
                ready.set()
        # The output ended: the process is ending. Wait for it, so that start() sees it
        # gone and reports its output (instead of returning as if it were up).
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(30)
        ready.set()

    def stop(self, timeout: float = 120.0) -> int:
        """Ctrl-C, as a user would, and wait for a clean exit."""
        assert self.proc is not None and self.tree is not None
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout)
        self.tree.wait_gone(timeout=60)
        return code

    def pids(self) -> list[int]:
        """Every process of this `mairust up`, Ray's workers included."""
        assert self.tree is not None
        return sorted(self.tree.pids())

    def kill9(self, while_frozen: Callable[[], bool] | None = None, tries: int = 1) -> int:
        """kill -9 of every process of this `mairust up` at once, Ray's detached workers
        included (see ProcessTree.kill9); returns how many processes were killed.
        ``while_frozen`` runs while they are all stopped and says whether to kill now or
        to let them run on and freeze again (up to ``tries`` times; the last try kills)."""
        assert self.proc is not None and self.tree is not None
        killed = self.tree.kill9(while_frozen, tries=tries)
        self.proc.wait(30)
        left = self.tree.wait_gone(timeout=30)
        assert not left, f"processes of mairust up outlived kill -9: {sorted(left)}"
        return killed

    def actor_pids(self, actor_class: str) -> list[int]:
        """Processes of this server that host a Ray actor of class ``actor_class`` (Ray
        titles an actor's process ``ray::<class>``, ``ray::<class>.<method>`` while busy)."""
        found = []
        for pid in self.pids():
            title = process_title(pid)
            if title == f"ray::{actor_class}" or title.startswith(f"ray::{actor_class}."):
                found.append(pid)
        return found

    def kill_pid9(self, pid: int) -> None:
        """kill -9 of one process of this server (an actor's worker process)."""
        assert pid in self.pids(), f"{pid} is not a process of this mairust up"
        os.kill(pid, signal.SIGKILL)

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        )

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *self.program,
                *args,
                "--data-dir",
                str(self.data_dir),
                *(["--config", str(self.config)] if self.config else []),
            ],
            capture_output=True,
            text=True,
            input=stdin,
            env=self.env,
            cwd=self.cwd,
            timeout=120,
        )

    @property
    def blobs_url(self) -> str:
        """The blob store this server uses, read from its config as `mairust up` reads it."""
        return load_settings(self.config, data_dir=self.data_dir).storage.blobs

    def blob_names(self) -> list[str]:
        """Every blob the server's store holds, asked of that store's backend: the files
        under a file:// store's folder, the objects of an s3:// store's bucket and prefix.
        (A look at ``data_dir / "blobs"`` would find nothing, always, when blobs are in S3.)"""
        url = self.blobs_url
        scheme = urlsplit(url).scheme
        if scheme == "s3":
            return object_names(url)
        assert scheme == "file", f"no way to list the blobs of {url}"
        root = Path(unquote(urlsplit(url).path))
        assert root.is_dir(), f"{root}: the blob folder the server was given is not there"
        return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())

    def add_user(self, address: str) -> None:
        result = self.cli("user", "add", address)
        assert result.returncode == 0, result.stdout + result.stderr


def process_title(pid: int) -> str:
    """The first word of a process's command line (Ray's process titles live there)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return ""  # it ended meanwhile


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
