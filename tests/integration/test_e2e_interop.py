"""Scenario: real SMTP clients — swaks and Postfix's smtp-source — deliver to `mairust up`."""

from __future__ import annotations

import shutil
import subprocess

import pytest


@pytest.fixture(scope="module")
def server(shared_server):
    shared_server.add_user("interop@example.test")
    return shared_server


def mailbox_count(server, subject_word: str | None = None) -> int:
    with server.api() as api:
        items = api.get(
            "/api/v1/messages", params={"mailbox": "interop@example.test", "limit": 500}
        ).json()["items"]
    return sum(1 for m in items if subject_word is None or subject_word in m["subject"])


def test_swaks_delivers(server, wait_until):
    swaks = shutil.which("swaks")
    assert swaks, "swaks is installed by the test command (make test)"
    result = subprocess.run(
        [
            swaks,
            "--server",
            "127.0.0.1",
            "--port",
            str(server.smtp_port),
            "--from",
            "s@remote.example",
            "--to",
            "interop@example.test",
            "--helo",
            "swaks.example",
            "--header",
            "Subject: swaks interop",
            "--body",
            "hi",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "250 2.0.0 Ok: queued as" in result.stdout
    wait_until(lambda: mailbox_count(server, "swaks") == 1, what="swaks message delivered")


def test_swaks_sees_enhanced_status_on_refusal(server):
    result = subprocess.run(
        [
            shutil.which("swaks") or "swaks",
            "--server",
            "127.0.0.1",
            "--port",
            str(server.smtp_port),
            "--from",
            "s@remote.example",
            "--to",
            "ghost@example.test",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "550 5.1.1" in result.stdout


def test_smtp_source_delivers(server, wait_until):
    smtp_source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    before = mailbox_count(server)
    result = subprocess.run(
        [
            smtp_source,
            "-s",
            "4",
            "-m",
            "40",
            "-l",
            "2048",
            "-f",
            "s@remote.example",
            "-t",
            "interop@example.test",
            f"127.0.0.1:{server.smtp_port}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wait_until(lambda: mailbox_count(server) == before + 40, what="40 smtp-source messages")
