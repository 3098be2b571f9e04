"""A private Dovecot LMTP server (the OS packages' ``dovecot-lmtpd``) for delivery tests.

``DovecotLmtp(address, port, users)`` starts, as root, ``dovecot -F -c CONF`` from a
temporary directory of its own — never the system's dovecot service or its config: its
own ``base_dir`` (sockets, the ``lmtp`` unix socket among them), ``state_dir`` and log
file; ``protocols = lmtp`` only (no IMAP/POP3 listener), one LMTP listener on
``address:port``; users from a passwd-file (uid/gid of ``nobody``, so the mail processes
need no privilege), each delivered to ``<dir>/mail/<user>/Maildir``. Stopped with SIGTERM
to the master, which takes its children with it.

What it needs, found by trying: the ``dovecot`` and ``dovenull`` users (made by the
package) for the internal and login processes; the temporary directory readable by
``nobody`` (mkdtemp makes it 0700); a passdb besides the userdb, or auth will not start.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

DOVECOT = "/usr/sbin/dovecot"
LMTP_BINARY = "/usr/lib/dovecot/lmtp"
START_SECONDS = 15.0

CONFIG = """\
# A private instance for tests: nothing here touches the system's dovecot.
protocols = lmtp
listen = {address}
base_dir = {root}/run
state_dir = {root}/state
instance_name = mairust-test-{port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
hostname = lmtp.test
postmaster_address = postmaster@lmtp.test
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:~/Maildir
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = {root}/users
}}
userdb {{
  driver = passwd-file
  args = {root}/users
}}
service lmtp {{
  inet_listener lmtp {{
    address = {address}
    port = {port}
  }}
  unix_listener lmtp {{
    mode = 0666
  }}
}}
"""


class DovecotLmtp:
    """The private server while the context is open (see the module docstring)."""

    def __init__(
        self,
        address: str,
        port: int,
        users: tuple[str, ...],
        *,
        unwritable: tuple[str, ...] = (),
    ) -> None:
        """``unwritable``: users that exist but whose home the mail process cannot write
        (Dovecot accepts them at RCPT, then fails them alone after the final dot)."""
        self.address = address
        self.port = port
        self.users = users
        self.unwritable = unwritable
        self.root = Path(tempfile.mkdtemp(prefix="mairust-dovecot-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> str:
        """The LMTP unix socket (in the instance's own base_dir)."""
        return str(self.root / "run" / "lmtp")

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user / "Maildir"

    def delivered(self, user: str) -> list[bytes]:
        """The messages in ``user``'s Maildir (new/ and cur/), oldest name first."""
        found: list[Path] = []
        for sub in ("new", "cur"):
            folder = self.maildir(user) / sub
            if folder.is_dir():
                found.extend(folder.iterdir())
        return [path.read_bytes() for path in sorted(found, key=lambda p: p.name)]

    def __enter__(self) -> DovecotLmtp:
        if not os.access(LMTP_BINARY, os.X_OK):
            raise RuntimeError(f"{LMTP_BINARY} missing: .ci/system-packages.sh installs it")
        nobody = pwd.getpwnam("nobody")
        self.root.chmod(0o755)  # the mail processes run as nobody
        mail = self.root / "mail"
        mail.mkdir()
        lines = []
        for user in (*self.users, *self.unwritable):
            home = mail / user
            home.mkdir()
            if user not in self.unwritable:
                os.chown(home, nobody.pw_uid, nobody.pw_gid)
            lines.append(f"{user}::{nobody.pw_uid}:{nobody.pw_gid}::{home}::\n")
        (self.root / "users").write_text("".join(lines))
        config = self.root / "dovecot.conf"
        config.write_text(CONFIG.format(root=self.root, address=self.address, port=self.port))
        with open(self.root / "master.err", "wb") as errors:  # the child keeps its copy
            self._process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._errors()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.address, self.port), timeout=1) as probe,
            ):
                if probe.recv(512).startswith(b"220") and Path(self.socket_path).exists():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen within {START_SECONDS} s: {self._errors()}")

    def _errors(self) -> str:
        err = self.root / "master.err"
        return (err.read_text(errors="replace") if err.exists() else "") + self.log

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
