"""Scenario: header-rules-rs, the Rust plugin on the stdin transport, on a running
`mairust up`. Installed with the `mairust plugin` CLI from a package holding its binary
(built by the project's build script) and configured, it is a child process of each
front-end that calls it: a matching mail gets its rule's 5xx with the enhanced code at the
end of DATA, a clean mail 250, delivered with its tag. kill -9 of the children is survived:
the next mail gets the verdict from a restarted child. Paused children are a timeout: the
binding's on_timeout (accept) answers within the call's 500 ms, and resumed they decide
again. Stopped, the platform leaves no child behind. Embedded stores only: the transport
does not depend on the store backends."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.mairust_server import process_title
from tests.support.stdin_plugins import header_rules_rs_package

CONFIG = """
[hooks]
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


def send(server: Any, subject: str) -> tuple[int, str]:
    data = (
        f"From: x@remote.example\r\nSubject: {subject}\r\nX-Mailer: BulkBlaster 3\r\n\r\nhi\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        code, reply = smtp.rcpt("alice@example.test")
        assert code == 250, reply
        code, reply = smtp.data(data)
    return code, reply.decode()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def children(binary: Path) -> set[int]:
    """Every process on this machine running the installed binary (whoever its parent)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and process_title(int(entry)) == str(binary):
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_rust_stdin_plugin_decides_and_survives_its_childs_death(
    new_server: Any, tmp_path: Path, wait_until: Any
) -> None:
    package = header_rules_rs_package(tmp_path / "package")
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user("alice@example.test")

    assert "installed header-rules-rs 1.0.0" in ok(server.cli("plugin", "install", str(package)))
    ok(server.cli("plugin", "configure", "header-rules-rs", json.dumps(RULES)))
    assert "header-rules-rs" in ok(server.cli("hook", "list", "--point", "pre_receive"))
    binary = server.data_dir / "plugins" / "header-rules-rs" / "1.0.0" / "bin" / "header-rules-rs"
    assert binary.read_bytes() == (package / "bin" / "header-rules-rs").read_bytes()

    wait_until(
        lambda: send(server, "cheap pills") == (550, "5.7.1 No pills here"),
        timeout=60,
        interval=0.5,
        what="header-rules-rs configured and rejecting",
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

    # The children are the front-ends' (the processes that called it): kill -9 them all.
    killed = children(binary)
    assert killed and killed <= set(server.pids()), (killed, server.pids())
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    # Reaped by their parents: each front-end has seen its child die.
    wait_until(lambda: not any(alive(pid) for pid in killed), timeout=30, what="children reaped")
    assert send(server, "more pills") == (550, "5.7.1 No pills here")
    restarted = children(binary)
    assert restarted and not restarted & killed

    # Paused (SIGSTOP), a child answers nothing: within the manifest's call_ms (500 ms) its
    # binding's on_timeout (accept) stands in. A front-end without a child yet starts an
    # unpaused one on its first call, so pause every child before each try.
    paused: set[int] = set()
    try:
        for _ in range(8):
            for pid in children(binary) - paused:
                os.kill(pid, signal.SIGSTOP)
                paused.add(pid)
            started = time.monotonic()
            code, reply = send(server, "paused pills")
            took = time.monotonic() - started
            if code == 250:
                break
        assert code == 250 and took < 4.5, (code, reply, took)
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)
    assert send(server, "resumed pills") == (550, "5.7.1 No pills here")

    def outcomes() -> dict[str, int]:  # calls are recorded in batches, a second at most later
        with server.api() as api:
            calls = api.get("/api/v1/admin/plugins/header-rules-rs/calls").json()
        return dict(calls["summary"]["by_outcome"]) | {
            "reject": int(calls["summary"]["by_verdict"].get("reject", 0))
        }

    wait_until(
        lambda: outcomes()["reject"] >= 3 and outcomes().get("timeout", 0) >= 1,
        timeout=30,
        what="the plugin's rejections and its timeout recorded",
    )

    # Stopped, the platform leaves no child of it running.
    server.stop()
    wait_until(lambda: not children(binary), timeout=30, what="no child left after stop")
