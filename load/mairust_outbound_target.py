"""``mairust up`` as an outbound MTA for the outbound delivery benchmark: mail submitted with
AUTH on its submission port for the sink fleet's domains, delivered through its outbound queue
to the MX each domain's DNS records name.

Set-up, all on loopback: a data directory with one tenant domain (``outbound.test``) and one
mailbox user with a password (``mairust user add --password-stdin``), whose address is the
envelope and header sender; a DKIM key for that domain (``mairust dkim keygen``) when the
command has one, so every message is signed; and a config pointing the resolver at the loopback
DNS server that serves the fleet's MX records (``[dns]``) and outbound delivery at the sinks'
port (``[outbound] port``), with connection reuse on (the default ``messages_per_connection``)
or off (1). Plain AUTH on loopback: ``[smtp] allow_plaintext_auth``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import subprocess
import tempfile
import urllib.request
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from load.mairust_target import log_tail, running_mairust_up
from load.targets import REPO_ROOT, free_loopback_port, wait_for_greeting

log = logging.getLogger("load.bench_outbound")

SENDER_DOMAIN = "outbound.test"
SENDER = f"sender@{SENDER_DOMAIN}"


@dataclass(frozen=True)
class Submission:
    """Where and as whom the load generator submits: 127.0.0.1:``port`` with ``auth``
    (None: no AUTH), from ``mail_from``. ``notes`` say how the target was set up;
    ``queue_state()`` says what the target's queue holds (when mail did not arrive)."""

    port: int
    mail_from: str
    auth: tuple[str, str] | None = None
    notes: tuple[str, ...] = ()
    queue_state: Callable[[], str] | None = None
    signing_domain: str | None = None  # every message must arrive DKIM-signed by it


def outbound_stats(api_port: int, token: str) -> str:
    """``GET /api/v1/outbound/stats`` in one line: the recipients in each state."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{api_port}/api/v1/outbound/stats",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            counts = json.load(response)["counts"]
    except (OSError, ValueError, KeyError) as error:
        return f"outbound stats unavailable: {error}"
    return "outbound queue: " + ", ".join(f"{state} {n}" for state, n in counts.items() if n)


def outbound_config(
    dns_port: int,
    sink_port: int,
    messages_per_connection: int | None,
    overrides: Sequence[str] = (),
) -> str:
    """The ``mairust up`` config of an outbound run (None: the default connection reuse).
    ``overrides`` are ``section.key=value`` settings (``value`` in TOML: ``2``, ``"off"``)
    added to or replacing the run's own, to try other settings without editing this module."""
    sections: dict[str, dict[str, str]] = {
        "smtp": {"allow_plaintext_auth": "true"},
        "dns": {"nameservers": '["127.0.0.1"]', "port": str(dns_port)},
        "outbound": {"port": str(sink_port)},
        # The benchmark's one tenant submits thousands of messages a minute; the default
        # per-tenant rate (an abuse limit) would measure the limit, and Postfix has none.
        "admission": {"messages_per_minute_per_tenant": "0"},
    }
    if messages_per_connection is not None:
        sections["outbound"]["messages_per_connection"] = str(messages_per_connection)
    for override in overrides:
        name, _, value = override.partition("=")
        section, _, key = name.strip().partition(".")
        if not (section and key and value.strip()):
            raise ValueError(f"not section.key=value: {override!r}")
        sections.setdefault(section, {})[key] = value.strip()
    return "".join(
        f"[{section}]\n" + "".join(f"{key} = {value}\n" for key, value in settings.items())
        for section, settings in sections.items()
    )


def mairust_cli(
    binary: str, data_dir: Path, config_file: Path, args: list[str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *args, "--data-dir", str(data_dir), "--config", str(config_file)],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _failed(done: subprocess.CompletedProcess[str], what: str) -> str | None:
    if done.returncode == 0:
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return f"`mairust {what}` failed: {lines[-1] if lines else f'status {done.returncode}'}"


def add_sender(binary: str, data_dir: Path, config_file: Path, password: str) -> str | None:
    """The submitting user, in its own tenant domain; what went wrong, if anything."""
    done = mairust_cli(
        binary,
        data_dir,
        config_file,
        ["user", "add", SENDER, "--create-domain", "--password-stdin"],
        stdin=password + "\n",
    )
    return _failed(done, "user add")


def has_command(binary: str, command: Sequence[str]) -> bool:
    """Whether this mairust has ``command`` (its ``--help`` succeeds; no data directory)."""
    done = subprocess.run(
        [binary, *command, "--help"],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
    )
    return done.returncode == 0


def enable_dkim(binary: str, data_dir: Path, config_file: Path) -> str | None:
    """DKIM signing for the sender's domain: the hook point of the benchmark's "DKIM on".

    Calls ``mairust dkim keygen DOMAIN`` when the command has it and returns the signing
    domain (the benchmark then checks every message at the sinks carries its signature);
    None when this mairust has no such command. A failing keygen raises: a run that was meant
    to sign must not pass for one that did."""
    if not has_command(binary, ["dkim", "keygen"]):
        return None
    done = mairust_cli(binary, data_dir, config_file, ["dkim", "keygen", SENDER_DOMAIN])
    problem = _failed(done, f"dkim keygen {SENDER_DOMAIN}")
    if problem is not None:
        raise RuntimeError(problem)
    return SENDER_DOMAIN


@contextlib.asynccontextmanager
async def mairust_outbound(
    binary: str,
    dns_port: int,
    sink_port: int,
    messages_per_connection: int | None,
    startup_timeout: float = 180.0,
    overrides: Sequence[str] = (),
    sign: bool = True,
) -> AsyncIterator[Submission]:
    """A ``mairust up`` ready to take submissions for the fleet's domains, for the block
    (``sign=False``: no DKIM key made, to see what signing costs)."""
    with tempfile.TemporaryDirectory(prefix="mairust-outbound-") as tmp:
        data_dir = Path(tmp)
        config_file = data_dir / "outbound.toml"
        config_file.write_text(
            outbound_config(dns_port, sink_port, messages_per_connection, overrides)
        )
        password = secrets.token_urlsafe(18)
        problem = add_sender(binary, data_dir, config_file, password)
        if problem is not None:
            raise RuntimeError(problem)
        signing_domain = enable_dkim(binary, data_dir, config_file) if sign else None
        if not sign:
            dkim = "DKIM signing OFF (--no-dkim)"
        elif signing_domain is None:
            dkim = "DKIM signing OFF: this mairust has no `dkim keygen` command"
        else:
            dkim = f"DKIM signing on ({signing_domain}, `mairust dkim keygen` defaults)"
        reuse = (
            "connection reuse off (messages_per_connection = 1)"
            if messages_per_connection == 1
            else "connection reuse on (messages_per_connection default)"
        )
        smtp_port, submission_port = free_loopback_port(), free_loopback_port()
        api_port = free_loopback_port()
        with running_mairust_up(
            binary,
            data_dir,
            smtp_port,
            config_file,
            api_port=api_port,
            submission_port=submission_port,
        ) as process:
            try:
                await wait_for_greeting(submission_port, process, within_seconds=startup_timeout)
            except RuntimeError:
                log.error("mairust up failed:\n%s", log_tail(data_dir / "mairust-up.log"))
                raise
            yield Submission(
                submission_port,
                SENDER,
                (SENDER, password),
                (dkim, reuse, *(f"set {override}" for override in overrides)),
                # The admin token `mairust up` generated for this data directory.
                lambda: outbound_stats(api_port, (data_dir / "admin_token").read_text().strip()),
                signing_domain,
            )
