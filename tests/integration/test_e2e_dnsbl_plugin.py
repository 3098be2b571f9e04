"""Scenario: the bundled dnsbl plugin (``serve``) on a running `mairust up`, bound at
``connect``, looking clients up in a test blocklist served by a real DNS server on loopback.
The test's client is 127.0.0.1, so the zone lists ``1.0.0.127.zen.test``: the greeting is
refused with 554 5.7.1 naming the list, and no mail can follow; once the listing is gone
the same client greets, sends and its mail is delivered. Embedded stores only: the
transport does not depend on the store backends."""

from __future__ import annotations

import json
import re
import smtplib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.dns_server import ZoneServer

ROOT = Path(__file__).resolve().parents[2]
DNSBL = ROOT / "plugins" / "dnsbl"
CONFIG = """
[hooks]
bindings_cache_seconds = 0.5
deadline_seconds = 5.0
"""
LISTING = "1.0.0.127.zen.test"
REFUSAL = "5.7.1 client 127.0.0.1 is listed in zen.test"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def greet(server: Any) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        code, reply = smtp.ehlo("client.example")
    return code, reply.decode()


def send(server: Any) -> tuple[int, str]:
    data = b"From: x@remote.example\r\nSubject: hello\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        code, reply = smtp.ehlo("client.example")
        if code != 250:
            return code, reply.decode()
        smtp.mail("x@remote.example")
        smtp.rcpt("alice@example.test")
        code, reply = smtp.data(data)
    return code, reply.decode()


@pytest.fixture
def blocklist() -> Iterator[ZoneServer]:
    with ZoneServer({LISTING: {"A": ["127.0.0.2"]}}) as server:
        yield server


def test_a_listed_client_is_refused_at_the_greeting_and_an_unlisted_one_sends(
    new_server: Any, tmp_path: Path, wait_until: Any, blocklist: ZoneServer
) -> None:
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user("alice@example.test")

    assert "installed dnsbl 1.0.0" in ok(server.cli("plugin", "install", str(DNSBL)))
    settings = {
        "zones": ["zen.test"],
        "resolver": {"address": "127.0.0.1", "port": blocklist.port},
        "timeout_ms": 1000,
    }
    ok(server.cli("plugin", "configure", "dnsbl", json.dumps(settings)))
    # Its schema requires zones, so it was installed off; configured, it may be switched on.
    ok(server.cli("plugin", "enable", "dnsbl"))
    assert "dnsbl" in ok(server.cli("hook", "list", "--point", "connect"))

    # The serve application is deployed within seconds of being enabled.
    wait_until(
        lambda: greet(server) == (554, REFUSAL),
        timeout=120,
        interval=1.0,
        what="dnsbl deployed and refusing the listed client",
    )
    assert blocklist.queries_for(LISTING, "A")
    # Refused at the greeting, the client cannot send: MAIL needs a 250 greeting.
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        assert smtp.ehlo("client.example")[0] == 554
        code, _ = smtp.docmd("MAIL", "FROM:<x@remote.example>")
        assert code == 503

    # No longer listed (the zone's record is gone), the same client greets and sends.
    blocklist.records.pop(LISTING)
    code, reply = send(server)
    assert code == 250, reply
    queued = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply)
    assert queued

    def delivered() -> list[dict[str, Any]]:
        with server.api() as api:
            answer = api.get("/api/v1/messages", params={"mailbox": "alice@example.test"})
        items: list[dict[str, Any]] = answer.json()["items"]
        return [m for m in items if m["message_id"] == queued.group(1)]

    assert wait_until(delivered, what="the unlisted client's message in the mailbox")
