"""Runs `mairust up` as a real subprocess on free loopback ports, for e2e scenarios."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from mairust.config import load_settings
from tests.support.s3_buckets import object_names
from tests.support.sockets import session_pids

VENV_BIN = Path(sys.executable).parent
MAIRUST = str(VENV_BIN / "mairust")
ADMIN_TOKEN = "e2e-admin-token"
READY_LINE = "MaiRust is up"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MAIRUST_ADMIN_TOKEN"] = ADMIN_TOKEN
        return env

    def start(self, timeout: float = 180.0) -> None:
        args = [
            MAIRUST,
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
            start_new_session=True,
        )
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
        ready.set()  # the process ended: let start() report it

    def stop(self, timeout: float = 120.0) -> int:
        """Ctrl-C, as a user would, and wait for a clean exit."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout)
        self._wait_session_gone(self.proc.pid, timeout=60)
        return code

    def pids(self) -> list[int]:
        """Every process of this `mairust up`, Ray's included."""
        assert self.proc is not None
        return session_pids(self.proc.pid)

    def kill9(self) -> None:
        """kill -9 of the whole process tree (every process in its session)."""
        assert self.proc is not None
        sid = self.proc.pid
        for pid in session_pids(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(30)
        self._wait_session_gone(sid, timeout=30)

    @staticmethod
    def _wait_session_gone(sid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while session_pids(sid) and time.monotonic() < deadline:
            for pid in session_pids(sid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        )

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                MAIRUST,
                *args,
                "--data-dir",
                str(self.data_dir),
                *(["--config", str(self.config)] if self.config else []),
            ],
            capture_output=True,
            text=True,
            input=stdin,
            env=self.env,
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


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
