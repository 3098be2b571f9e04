"""Scenario: the bundled greylist plugin (``serve``, keeping its triplets in the platform's
plugin state) on a running `mairust up`, installed and configured with the `mairust plugin`
CLI (a 5 s retry window). A first RCPT of a (client network, sender, recipient) triplet is
refused with 451 4.7.1, a retry inside the window too; after the window the retry gets 250
and the mail is delivered. Embedded stores: the state store runs on both backends in the
storage tests."""

from __future__ import annotations

import json
import smtplib
import subprocess
import time
from itertools import count
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GREYLIST = ROOT / "plugins" / "greylist"
DELAY = 5.0
CONFIG = """
[hooks]
bindings_cache_seconds = 0.5
deadline_seconds = 5.0
"""
PROBES = count()


def rcpt(server: Any, sender: str, subject: str | None = None) -> tuple[int, str]:
    """One connection: MAIL, RCPT (and DATA with ``subject`` when RCPT passes)."""
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail(sender)
        code, reply = smtp.rcpt("alice@example.test")
        if code == 250 and subject is not None:
            data = f"From: {sender}\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()
            data_code, data_reply = smtp.data(data)
            assert data_code == 250, data_reply
    return code, reply.decode()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def configured(server: Any) -> bool:
    """A fresh triplet is greylisted and passes after DELAY: the configured window holds
    (not the 300 s default of the replicas started before the configuration)."""
    sender = f"probe{next(PROBES)}@remote.example"
    if rcpt(server, sender)[0] != 451:
        return False
    time.sleep(DELAY + 0.5)
    return rcpt(server, sender)[0] == 250


def test_a_first_seen_triplet_waits_the_window_then_passes(
    new_server: Any, tmp_path: Path, wait_until: Any
) -> None:
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user("alice@example.test")
    assert "installed greylist 1.0.0" in ok(server.cli("plugin", "install", str(GREYLIST)))
    ok(server.cli("plugin", "configure", "greylist", json.dumps({"delay_seconds": DELAY})))
    wait_until(lambda: configured(server), timeout=150, interval=0.5, what="greylist deployed, 5 s")

    sender = "ann@remote.example"
    first_seen = time.monotonic()
    assert rcpt(server, sender, "greylisted") == (451, "4.7.1 greylisted, try again later")
    time.sleep(1.0)
    code, reply = rcpt(server, sender, "greylisted")
    assert (code, reply) == (451, "4.7.1 greylisted, try again later")
    assert time.monotonic() - first_seen < DELAY  # still inside the window
    time.sleep(max(0.0, DELAY + 0.5 - (time.monotonic() - first_seen)))
    assert rcpt(server, sender, "greylisted")[0] == 250

    def delivered() -> list[dict[str, Any]]:
        with server.api() as api:
            answer = api.get("/api/v1/messages", params={"mailbox": "alice@example.test"})
        items: list[dict[str, Any]] = answer.json()["items"]
        return [m for m in items if m["subject"] == "greylisted"]

    [message] = wait_until(delivered, timeout=60, what="the retried mail in the mailbox")
    assert message["subject"] == "greylisted"
