"""Scenario: the two bundled plugins on a running `mairust up`, each over its transport,
managed with the `mairust plugin` CLI (which writes the store; the running platform deploys
from it). header-rules (``serve``: its own Ray Serve application, deployed from the package
kept under the data dir) rejects mail at the end of DATA with its rule's reply and tags
the rest; recipient-policy (``http``: a real loopback service,
``python -m plugins.recipient_policy``) refuses a recipient at RCPT TO with its reply.
Uninstalled, header-rules stops deciding. Embedded stores only: the transports do not
depend on the store backends (test_e2e_hooks runs the http transport on both)."""

from __future__ import annotations

import json
import re
import shutil
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.mairust_server import free_port

ROOT = Path(__file__).resolve().parents[2]
HEADER_RULES = ROOT / "plugins" / "header_rules"
RECIPIENT_POLICY = ROOT / "plugins" / "recipient_policy"
CONFIG = """
[hooks]
allow_networks = ["127.0.0.1/32"]
bindings_cache_seconds = 0.5
deadline_seconds = 5.0
"""
RULES = {
    "rules": [
        {
            "header": "Subject",
            "pattern": r"\bpills\b",
            "action": "reject",
            "reply": "550 5.7.1 No pills here",
        },
        {"header": "X-Mailer", "pattern": "^BulkBlaster", "action": "tag", "tag": "bulk"},
    ]
}
POLICY_REPLY = "550 5.7.1 noreply takes no mail"


def send(server: Any, subject: str, rcpt: str = "alice@example.test") -> tuple[int, str]:
    data = (
        f"From: x@remote.example\r\nSubject: {subject}\r\nX-Mailer: BulkBlaster 3\r\n\r\nhi\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        code, reply = smtp.rcpt(rcpt)
        if code != 250:
            return code, reply.decode()
        code, reply = smtp.data(data)
    return code, reply.decode()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def recipient_policy() -> Iterator[str]:
    """The recipient-policy service on a free loopback port; its hook URL."""
    port = free_port()
    command = [sys.executable, "-m", "plugins.recipient_policy", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--refuse", "^noreply@", "--reply", POLICY_REPLY], cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}/hook"
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_bundled_plugins_decide_over_smtp(
    new_server: Any, tmp_path: Path, wait_until: Any, recipient_policy: str
) -> None:
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user("alice@example.test")
    server.add_user("noreply@example.test")

    # header-rules: installed from the repository's folder, bound at pre_receive (its
    # manifest's point), configured; the running platform deploys it within seconds.
    assert "installed header-rules 1.0.0" in ok(server.cli("plugin", "install", str(HEADER_RULES)))
    ok(server.cli("plugin", "configure", "header-rules", json.dumps(RULES)))
    assert "header-rules" in ok(server.cli("hook", "list", "--point", "pre_receive"))
    kept = server.data_dir / "plugins" / "header-rules" / "1.0.0" / "plugin.py"
    assert kept.read_bytes() == (HEADER_RULES / "plugin.py").read_bytes()

    wait_until(
        lambda: send(server, "cheap pills") == (550, "5.7.1 No pills here"),
        timeout=90,
        interval=1.0,
        what="header-rules deployed and rejecting",
    )
    code, reply = send(server, "quarterly numbers")
    assert code == 250, reply
    queued = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply)
    assert queued

    def delivered() -> list[dict[str, Any]]:
        with server.api() as api:
            answer = api.get("/api/v1/messages", params={"mailbox": "alice@example.test"})
        items: list[dict[str, Any]] = answer.json()["items"]
        return [m for m in items if m["message_id"] == queued.group(1)]

    [message] = wait_until(delivered, what="the accepted message in the mailbox")
    assert "bulk" in message["tags"]

    # recipient-policy: an outside service; its manifest names where it listens.
    package = tmp_path / "recipient_policy"
    shutil.copytree(RECIPIENT_POLICY, package, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = package / "plugin.toml"
    manifest.write_text(
        manifest.read_text().replace("http://127.0.0.1:8025/hook", recipient_policy)
    )
    httpx.post(recipient_policy, content=b"")  # it listens (a 400 for an empty body)
    ok(server.cli("plugin", "install", str(package)))
    wait_until(
        lambda: send(server, "hello", rcpt="noreply@example.test") == (550, POLICY_REPLY[4:]),
        timeout=30,
        interval=0.5,
        what="recipient-policy refusing at RCPT",
    )
    assert send(server, "hello again")[0] == 250

    # Uninstalled, header-rules no longer decides (its bindings and application go).
    ok(server.cli("plugin", "uninstall", "header-rules"))
    wait_until(
        lambda: send(server, "cheap pills")[0] == 250,
        timeout=30,
        interval=0.5,
        what="header-rules gone",
    )
    with server.api() as api:
        calls = api.get("/api/v1/admin/plugins/recipient-policy/calls").json()
    assert calls["summary"]["by_verdict"].get("reject", 0) >= 1
