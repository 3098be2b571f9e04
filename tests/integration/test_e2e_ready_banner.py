"""Scenario: the banner means ready — mail sent the moment it appears is delivered and
searchable — and what `mairust up` prints is its own banner and real warnings, not Ray's
start-up chatter.

The bounds below are timeouts for a busy machine, not timing assertions: the start-up
time itself is measured by load/bench_startup.py (docs/benchmarks.md).
"""

from __future__ import annotations

import re
import smtplib
from typing import Any

from tests.support.mairust_server import READY_LINE

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
SEVERE = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b")
INFO = re.compile(r"(^|\s)INFO[\s:]")


def is_noise(line: str) -> bool:
    """A line that is neither MaiRust's banner nor a real warning."""
    if line.startswith("("):  # forwarded from a Ray worker: "(FrontEndHost pid=42) ..."
        return SEVERE.search(line) is None
    if line.startswith("["):  # Ray's C++ log format: "[2026-11-29 18:22:49,449 E 9985 ...]"
        return True
    return INFO.search(line) is not None


def test_mail_sent_at_the_banner_is_delivered_and_searchable(new_server, wait_until):
    server = new_server()
    # The mailbox exists before the start, so nothing else comes between banner and mail.
    added = server.cli("user", "add", "alice@example.test", "--create-domain")
    assert added.returncode == 0, added.stdout + added.stderr
    server.start()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
        refused = smtp.sendmail(
            "s@remote.example",
            ["alice@example.test"],
            b"Subject: right at the banner\r\n\r\nwombat at the starting line\r\n",
        )
    assert refused == {}

    def found() -> list[dict[str, Any]]:
        with server.api() as api:
            listed = api.get("/api/v1/messages", params={"mailbox": "alice@example.test"})
            hits = api.get("/api/v1/search", params={"q": "wombat starting"})
        if listed.status_code != 200 or hits.status_code != 200 or not listed.json()["items"]:
            return []
        return list(hits.json()["items"])

    hits = wait_until(found, timeout=60, what="the message in its mailbox and searchable")
    assert [(hit["mailbox"], hit["subject"]) for hit in hits] == [
        ("alice@example.test", "right at the banner")
    ]

    output = [ANSI_ESCAPE.sub("", line).rstrip("\n") for line in server.output]
    assert any(READY_LINE in line for line in output)
    noise = [line for line in output if is_noise(line)]
    assert noise == [], "not MaiRust's banner nor a warning:\n" + "\n".join(noise)
    assert server.stop() == 0


def test_the_noise_filter_tells_warnings_from_chatter():
    assert is_noise("(FrontEndHost pid=42) INFO:actors.frontend:listening")
    assert is_noise("(ServeReplica:api:api pid=7) INFO 2026-11-29 18:23:28,023 api -- GET / 200")
    assert is_noise("(raylet) Task ServeController.graceful_shutdown failed.")
    assert is_noise(
        'INFO 2026-11-29 18:23:24,658 serve 9985 -- Started Serve in namespace "serve".'
    )
    assert is_noise("2026-11-29 18:22:39,250 INFO alembic.runtime.migration: Context impl")
    assert is_noise("[2026-11-29 18:22:49,449 E 9985 9985] core_worker.cc:2465: Actor dispatcher")
    assert not is_noise("(FrontEndHost pid=42) WARNING:mairust.smtp.frontend:SMTP AUTH without TLS")
    assert not is_noise("SMTP        listening on 127.0.0.1:2525")
    assert not is_noise("MaiRust is up. Press Ctrl-C to stop.")
