"""Private Postfix instances for the reference benchmark, and the counting smtp-sink.

Owns a throw-away Postfix from the OS packages (``postfix -c DIR start`` / ``stop``) with its
own config, queue and data directories in a temporary directory, listening on one loopback
port, never touching the system's Postfix (``/etc/postfix`` may not even have a main.cf):

- **durable accept**: smtpd → cleanup → the queue file fsync'd in ``incoming/`` → 250 → qmgr
  → the ``discard`` transport; the same durability promise MaiRust makes before its 250;
- **relay**: the same, but delivered by Postfix's smtp client to ``[127.0.0.1]:PORT``, where a
  counting ``smtp-sink`` takes it: Postfix as a relaying MTA, timed until the sink has it all.

What a second instance needs, found by trying: as root, ``postfix -c DIR`` does not ask for
``alternate_config_directories`` (that check is for unprivileged users of set-gid commands),
so no postmulti and no change to the system's main.cf; the queue directory is created and
given to ``mail_owner`` by ``postfix start`` itself (``postfix check`` → post-install), but
``data_directory`` must already belong to ``mail_owner`` (master's lock file lives there);
``meta_directory`` stays the package's (it holds postfix-files); every service runs without
chroot so nothing needs copying into the queue directory; ``maillog_file`` (through the
``postlog`` service) replaces syslog, allowed by ``maillog_file_prefixes``; ``myhostname`` is
not the machine's name so a relay to a sink greeting with that name is no mail loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from load.targets import start_target, stop_process

log = logging.getLogger("load.postfix_target")

POSTFIX = "/usr/sbin/postfix"
SMTP_SINK = "/usr/sbin/smtp-sink"
MAIL_OWNER = "postfix"
HOSTNAME = "postfix-reference.test"
SINK_HOSTNAME = "sink.test"
DISCARD = "discard:reference benchmark"
# Where a message waits while Postfix still owns it (hash_queue_depth spreads some of them).
QUEUE_DIRS = ("maildrop", "incoming", "active", "deferred", "hold")
_MESSAGES_COUNTER = re.compile(rb"mesg=(\d+)")

# Postfix's standard services, none chrooted; smtpd listens on {address}:{port} only.
MASTER_CF = """\
{address}:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
virtual   unix  -       n       n       -       -       virtual
"""


def main_cf(root: Path, relay_domain: str, transport: str, extra: str = "") -> str:
    """main.cf of an instance under ``root`` that accepts mail for ``relay_domain`` (one
    domain, or several separated by commas) from loopback and hands all of it to ``transport``
    (``discard:...`` or ``smtp:[host]:port``); ``extra`` lines are appended."""
    return f"""\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
meta_directory = /etc/postfix
mail_owner = {MAIL_OWNER}
setgid_group = postdrop
myhostname = {HOSTNAME}
mydestination =
relay_domains = {relay_domain}
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
default_transport = {transport}
relay_transport = {transport}
local_transport = {transport}
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
{extra}"""


@dataclass(frozen=True)
class PostfixInstance:
    root: Path
    port: int

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def maillog(self) -> Path:
        return self.root / "maillog"

    def queued(self) -> int:
        """Messages Postfix still holds (in any queue directory)."""
        count = 0
        for name in QUEUE_DIRS:
            for _, _, files in os.walk(self.root / "queue" / name):
                count += len(files)
        return count

    def delivered(self) -> int:
        """Deliveries its log reports as sent (to discard or to the relay)."""
        if not self.maillog.exists():
            return 0
        with self.maillog.open("rb") as log_file:
            return sum(b" status=sent " in line for line in log_file)

    def log_tail(self, lines: int = 20) -> str:
        if not self.maillog.exists():
            return "(no maillog)"
        return "\n".join(self.maillog.read_text(errors="replace").splitlines()[-lines:])

    def postfix(self, command: str, timeout: float) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [POSTFIX, "-c", str(self.config_dir), command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )

    def master_pid(self) -> int | None:
        pid_file = self.root / "queue" / "pid" / "master.pid"
        with contextlib.suppress(OSError, ValueError):
            return int(pid_file.read_text().strip())
        return None


def prepare_instance(
    root: Path,
    port: int,
    relay_domain: str,
    transport: str,
    extra_main_cf: str = "",
    address: str = "127.0.0.1",
) -> PostfixInstance:
    """Write the configuration of an instance under ``root`` listening on ``address``
    (not started)."""
    instance = PostfixInstance(root, port)
    root.chmod(0o755)  # mail_owner's daemons must reach the queue and the log below it
    instance.config_dir.mkdir()
    (root / "queue").mkdir()
    owner = pwd.getpwnam(MAIL_OWNER)
    (root / "data").mkdir()
    os.chown(root / "data", owner.pw_uid, owner.pw_gid)
    (instance.config_dir / "main.cf").write_text(
        main_cf(root, relay_domain, transport, extra_main_cf)
    )
    (instance.config_dir / "master.cf").write_text(MASTER_CF.format(address=address, port=port))
    return instance


def _wait(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_instance(instance: PostfixInstance, drain_timeout: float, stop_timeout: float) -> None:
    """Let the queue empty (bounded), ``postfix stop``, and make sure its master is gone:
    ``postfix abort`` and then SIGKILL to the master this instance started, if it lingers."""
    if not _wait(lambda: instance.queued() == 0, drain_timeout):
        log.warning("%d messages still queued after %.0f s", instance.queued(), drain_timeout)
    pid = instance.master_pid()
    stopped = instance.postfix("stop", timeout=stop_timeout)
    if stopped.returncode != 0:
        log.warning("postfix stop: %s", stopped.stderr.decode(errors="replace").strip())
    if pid is None or _wait(lambda: not _alive(pid), stop_timeout):
        return
    log.warning("Postfix master %d still running %.0f s after stop; aborting", pid, stop_timeout)
    with contextlib.suppress(subprocess.TimeoutExpired):
        instance.postfix("abort", timeout=stop_timeout)
    if not _wait(lambda: not _alive(pid), stop_timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def private_postfix(
    port: int,
    relay_domain: str,
    transport: str = DISCARD,
    start_timeout: float = 60.0,
    drain_timeout: float = 120.0,
    parent: Path | None = None,
    extra_main_cf: str = "",
    address: str = "127.0.0.1",
) -> Iterator[PostfixInstance]:
    """A private Postfix on ``address``:``port`` for the life of the block; on the way out it
    waits (bounded) for its queue to empty, stops, and its directory (made in ``parent``,
    default the temporary directory; the postfix user must be able to enter it) is removed."""
    if os.geteuid() != 0:
        raise RuntimeError("a private Postfix instance is started as root (`postfix -c DIR`)")
    root = Path(tempfile.mkdtemp(prefix="postfix-reference-", dir=parent))
    try:
        instance = prepare_instance(root, port, relay_domain, transport, extra_main_cf, address)
        started = instance.postfix("start", timeout=start_timeout)
        if started.returncode != 0:
            output = (started.stderr or started.stdout).decode(errors="replace").strip()
            raise RuntimeError(f"postfix start failed: {output}\n{instance.log_tail()}")
        try:
            yield instance
        finally:
            stop_instance(instance, drain_timeout, stop_timeout=30.0)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class CountingSink:
    """Postfix's ``smtp-sink`` with its counters (``-c``) written to a file we read."""

    port: int
    output: Path
    process: subprocess.Popen[bytes] | None = None

    def messages(self) -> int:
        """Messages received so far (the last ``mesg=N`` counter it printed)."""
        with contextlib.suppress(OSError), self.output.open("rb") as counters:
            counters.seek(max(0, self.output.stat().st_size - 256))
            found = _MESSAGES_COUNTER.findall(counters.read())
            return int(found[-1]) if found else 0
        return 0


@contextlib.contextmanager
def counting_sink(port: int, directory: Path) -> Iterator[CountingSink]:
    """smtp-sink on 127.0.0.1:``port`` greeting as ``SINK_HOSTNAME``, counting messages."""
    sink = CountingSink(port, directory / f"smtp-sink-{port}.counters")
    # smtp-sink refuses to run as root without a user to switch to after binding.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    args = [SMTP_SINK, *user, "-c", "-h", SINK_HOSTNAME, f"127.0.0.1:{port}", "1000"]
    with sink.output.open("wb") as output:
        sink.process = start_target(args, output)
        try:
            yield sink
        finally:
            stop_process(sink.process, grace=10)
