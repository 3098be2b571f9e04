"""Scenario: the bundled ticket-webhook plugin (``webhook`` transport) on a running
`mairust up`, managed with the `mairust plugin` CLI: its signing secret set, its filter
configured, enabled. Mail over SMTP that matches the filter is POSTed after the 250, through
the durable webhook outbox, to a real loopback receiver that VERIFIES the Standard Webhooks
signature with the secret (and answers 401 to anything else); mail that does not match is
never posted. Embedded stores: the outbox on both backends is tested in the storage tests."""

from __future__ import annotations

import json
import shutil
import smtplib
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mairust.webhooks.signing import SignatureInvalid, generate_secret, verify

ROOT = Path(__file__).resolve().parents[2]
TICKET_WEBHOOK = ROOT / "plugins" / "ticket_webhook"
SECRET = generate_secret()
CONFIG = """
[hooks]
job_poll_interval = 0.2

[webhooks]
allow_networks = ["127.0.0.1/32"]
allow_http = true
poll_interval = 0.5
"""
MATCH = {"match": {"recipient": "^support@", "subject": "urgent|outage"}}


@dataclass
class Receiver:
    """What the ticket system got: verified bodies, and the requests it refused."""

    port: int = 0
    verified: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tickets"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    seen = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                verify(SECRET, dict(self.headers.items()), body, time.time())
            except SignatureInvalid as error:
                seen.refused.append(error.reason)
                self.send_response(401)
            else:
                seen.verified.append(json.loads(body))
                self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    seen.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def send(server: Any, rcpt: str, subject: str) -> None:
    data = (
        f"From: Ann <ann@remote.example>\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\n"
        "Nothing arrives since noon.\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.sendmail("ann@remote.example", [rcpt], data)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_matching_mail_is_posted_signed_and_other_mail_is_not(
    new_server: Any, tmp_path: Path, wait_until: Any, receiver: Receiver
) -> None:
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user("support@example.test")
    server.add_user("alice@example.test")

    package = tmp_path / "ticket_webhook"
    shutil.copytree(TICKET_WEBHOOK, package, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = package / "plugin.toml"
    manifest.write_text(
        manifest.read_text().replace("https://tickets.example.com/hooks/mairust", receiver.url)
    )
    ok(server.cli("plugin", "install", str(package)))
    ok(server.cli("plugin", "secret", "set", "ticket-webhook", "signing", stdin=SECRET))
    ok(server.cli("plugin", "configure", "ticket-webhook", json.dumps(MATCH)))
    ok(server.cli("plugin", "enable", "ticket-webhook"))

    send(server, "alice@example.test", "urgent: lunch")  # another recipient
    send(server, "support@example.test", "hello")  # another subject
    send(server, "support@example.test", "URGENT: mail outage")

    [ticket] = wait_until(
        lambda: list(receiver.verified), timeout=90, what="the matching mail at the receiver"
    )
    assert ticket["type"] == "hook.post_receive"
    data = ticket["data"]
    assert (data["plugin"], data["subject"], data["from"]) == (
        "ticket-webhook",
        "URGENT: mail outage",
        "Ann <ann@remote.example>",
    )
    assert data["envelope"]["rcpt_tos"] == ["support@example.test"]
    assert "Nothing arrives since noon." in data["body_preview"]

    # Every message's job ran (three calls answered), and only one was posted.
    def answered() -> int | None:
        with server.api() as api:
            calls = api.get("/api/v1/admin/plugins/ticket-webhook/calls").json()["items"]
        count = sum(1 for call in calls if call["outcome"] == "answered")
        return count if count >= 3 else None

    assert wait_until(answered, timeout=60, what="the three calls recorded") == 3
    time.sleep(2.0)  # a delivery enqueued by mistake would be sent within the poll interval
    assert len(receiver.verified) == 1 and receiver.refused == []
