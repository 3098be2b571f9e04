"""Scenario: the bundled rspamd plugin on a running `mairust up`, against the real Rspamd of
the test services (MAIRUST_TEST_RSPAMD_URL, .ci/services/rspamd.sh: offline, a body holding
MAIRUST-TEST-SPAM scores 100). Installed with the `mairust plugin` CLI, its entrypoint
pointed at that Rspamd's /checkv2: a spammy mail gets Rspamd's reject as a 550 5.7.1 naming
the score at the end of DATA, a clean one is accepted, delivered, and carries Rspamd's score
as a tag. Embedded stores only: the transport does not depend on the store backends."""

from __future__ import annotations

import re
import shutil
import smtplib
import subprocess
from pathlib import Path
from typing import Any

from tests.support.services import required_env

ROOT = Path(__file__).resolve().parents[2]
RSPAMD = ROOT / "plugins" / "rspamd"
CONFIG = """
[hooks]
allow_networks = ["127.0.0.1/32"]
bindings_cache_seconds = 0.5
deadline_seconds = 10.0
"""


def send(server: Any, body: str) -> tuple[int, str]:
    data = (
        "From: Sender <x@remote.example>\r\nTo: alice@example.test\r\nSubject: hello\r\n"
        "Message-ID: <e2e@remote.example>\r\nDate: Mon, 30 Nov 2026 07:00:00 +0000\r\n\r\n"
        f"{body}\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        smtp.rcpt("alice@example.test")
        code, reply = smtp.data(data)
    return code, reply.decode()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rspamd_rejects_spam_and_scores_clean_mail(
    new_server: Any, tmp_path: Path, wait_until: Any
) -> None:
    rspamd = required_env("MAIRUST_TEST_RSPAMD_URL", "the rspamd plugin scenario").rstrip("/")
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user("alice@example.test")

    package = tmp_path / "rspamd"
    shutil.copytree(RSPAMD, package, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = package / "plugin.toml"
    manifest.write_text(
        manifest.read_text().replace("http://127.0.0.1:11333/checkv2", f"{rspamd}/checkv2")
    )
    assert "installed rspamd 1.0.0" in ok(server.cli("plugin", "install", str(package)))

    def rejected() -> tuple[int, str] | None:
        code, reply = send(server, "Buy now: MAIRUST-TEST-SPAM")
        return (code, reply) if code != 250 else None

    code, reply = wait_until(rejected, timeout=30, interval=0.5, what="rspamd bound, rejecting")
    assert code == 550, reply
    named = re.fullmatch(
        r"5\.7\.1 Message rejected as spam \(rspamd score (\d+\.\d\d) / 15\.00\)", reply
    )
    assert named and float(named.group(1)) >= 90.0, reply  # the marker's 100, give or take

    code, reply = send(server, "Lunch tomorrow at noon?")
    assert code == 250, reply
    queued = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply)
    assert queued

    def delivered() -> list[dict[str, Any]]:
        with server.api() as api:
            answer = api.get("/api/v1/messages", params={"mailbox": "alice@example.test"})
        items: list[dict[str, Any]] = answer.json()["items"]
        return [m for m in items if m["message_id"] == queued.group(1)]

    [message] = wait_until(delivered, what="the clean message in the mailbox")
    [score] = [t for t in message["tags"] if t.startswith("rspamd:score=")]
    assert float(score.partition("=")[2]) < 4.0, message["tags"]
    assert "spam" not in message["tags"]

    def recorded_rejects() -> int:  # calls are recorded in batches, off the mail's path
        with server.api() as api:
            calls = api.get("/api/v1/admin/plugins/rspamd/calls").json()
        return int(calls["summary"]["by_verdict"].get("reject", 0))

    assert wait_until(recorded_rejects, timeout=30, what="the rspamd calls recorded") >= 1
