"""Scenario: a plugin in Go over gRPC on a running `mairust up`. The bundled
attachment-policy plugin, built by the project's build script and started as a real
process on loopback, is installed with the `mairust plugin` CLI (its bearer token set as
its secret, then switched on) and bound at pre_receive by its manifest. Over SMTP, mail
with an .exe attachment gets the plugin's 554 5.7.1; clean mail gets 250 and is delivered.
Paused (SIGSTOP: it holds its socket and answers nothing), the plugin's call_ms passes and
its on_timeout (tempfail) answers 451 4.7.1, recorded as a timeout; resumed, it decides
again. Embedded stores only: the transport does not depend on the store backends."""

from __future__ import annotations

import json
import re
import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.support.go_plugins import ROOT, RunningPlugin, attachment_policy, build_go_plugins

PLUGIN = ROOT / "plugins" / "attachment_policy"
TOKEN = "e2e-attachment-token"
CONFIG = """
[hooks]
allow_networks = ["127.0.0.1/32"]
bindings_cache_seconds = 0.5
deadline_seconds = 5.0
"""
REFUSED = (554, "5.7.1 Attachments of type .exe are not accepted here")


def mail(attachment: str | None) -> bytes:
    message = EmailMessage()
    message["From"] = "x@remote.example"
    message["To"] = "alice@example.test"
    message["Subject"] = f"files: {attachment}"
    message.set_content("see attached")
    if attachment is not None:
        message.add_attachment(
            b"MZ\x90\x00 not really a program",
            maintype="application",
            subtype="octet-stream",
            filename=attachment,
        )
    return message.as_bytes()


def send(server: Any, data: bytes) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        smtp.rcpt("alice@example.test")
        code, reply = smtp.data(data)
    return code, reply.decode()


def ok(result: Any) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return str(result.stdout)


@pytest.fixture
def go_plugin() -> Iterator[RunningPlugin]:
    with attachment_policy(build_go_plugins(), token=TOKEN) as plugin:
        yield plugin


def test_a_go_plugin_over_grpc_decides_over_smtp(
    new_server: Any, tmp_path: Path, wait_until: Any, go_plugin: RunningPlugin
) -> None:
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user("alice@example.test")

    # The bundled manifest, its entrypoint where this plugin process listens.
    package = tmp_path / "attachment_policy"
    package.mkdir()
    manifest = (PLUGIN / "plugin.toml").read_text()
    assert 'entrypoint = "127.0.0.1:50051"' in manifest
    (package / "plugin.toml").write_text(manifest.replace("127.0.0.1:50051", go_plugin.target))
    assert "installed attachment-policy 1.0.0" in ok(server.cli("plugin", "install", str(package)))
    ok(server.cli("plugin", "secret", "set", "attachment-policy", "token", stdin=TOKEN))
    ok(server.cli("plugin", "enable", "attachment-policy"))
    assert "attachment-policy" in ok(server.cli("hook", "list", "--point", "pre_receive"))

    wait_until(
        lambda: send(server, mail("setup.exe")) == REFUSED,
        timeout=30,
        interval=0.5,
        what="attachment-policy refusing an .exe",
    )
    assert send(server, mail("Invoice.PDF.js")) == (
        554,
        "5.7.1 Attachments of type .js are not accepted here",
    )
    code, reply = send(server, mail("report.pdf"))
    assert code == 250, reply
    queued = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply)
    assert queued

    def delivered() -> list[dict[str, Any]]:
        with server.api() as api:
            answer = api.get("/api/v1/messages", params={"mailbox": "alice@example.test"})
        items: list[dict[str, Any]] = answer.json()["items"]
        return [m for m in items if m["message_id"] == queued.group(1)]

    wait_until(delivered, what="the clean message in the mailbox")

    # A hung plugin: its own deadline (call_ms 1000) passes well before the point's (5 s),
    # and its on_timeout stands in: a temporary refusal, never a silent pass.
    go_plugin.pause()
    try:
        started = time.monotonic()
        code, reply = send(server, mail("setup.exe"))
        took = time.monotonic() - started
    finally:
        go_plugin.resume()
    assert (code, reply) == (451, "4.7.1 Message deferred by policy, please try again later")
    assert took < 4.5, f"the call's 1 s deadline was not honoured ({took:.1f} s)"
    assert send(server, mail("setup.exe")) == REFUSED  # resumed, it decides again

    def summary() -> dict[str, Any] | None:
        """The plugin's recorded calls (written in batches, a second or so behind)."""
        with server.api() as api:
            calls = api.get("/api/v1/admin/plugins/attachment-policy/calls").json()
        found: dict[str, Any] = calls["summary"]
        outcomes = found["by_outcome"]
        return (
            found if outcomes.get("timeout", 0) >= 1 and outcomes.get("answered", 0) >= 4 else None
        )

    recorded = wait_until(summary, timeout=30, what="the timeout and the answers recorded")
    assert recorded["by_verdict"].get("reject", 0) >= 3, json.dumps(recorded)
