"""Scenario: aliases and a catch-all made over the API of `mairust up`, then real SMTP
sessions: an alias lands in each target mailbox once, a mailbox wins over the alias, an
unknown address goes to the catch-all, and without one it is refused at RCPT."""

from __future__ import annotations

import re
import smtplib
from typing import Any

import pytest

DOMAIN = "aliases.test"


@pytest.fixture(scope="module")
def server(shared_server):
    added = shared_server.cli("domain", "add", DOMAIN)
    assert added.returncode == 0, added.stdout + added.stderr
    for user in ("ann", "ben", "sink"):
        shared_server.add_user(f"{user}@{DOMAIN}")
    return shared_server


def send(server, rcpts: list[str], subject: str) -> str:
    data = f"From: x@remote.example\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        for rcpt in rcpts:
            code, reply = smtp.rcpt(rcpt)
            assert code == 250, reply
        code, reply = smtp.data(data)
    assert code == 250, reply
    match = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply.decode())
    assert match, reply
    return match.group(1)


def copies(server, mailbox: str, message_id: str) -> list[dict[str, Any]]:
    with server.api() as api:
        response = api.get("/api/v1/messages", params={"mailbox": mailbox})
    assert response.status_code == 200, response.text
    return [m for m in response.json()["items"] if m["message_id"] == message_id]


def test_alias_and_catchall_over_smtp(server, wait_until):
    with server.api() as api:
        created = api.post(
            f"/api/v1/domains/{DOMAIN}/aliases",
            json={
                "address": f"team@{DOMAIN}",
                "targets": [f"ann@{DOMAIN}", f"ben@{DOMAIN}", f"ANN@{DOMAIN}"],
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["targets"] == [f"ann@{DOMAIN}", f"ben@{DOMAIN}"]

    # The alias and one of its targets in one envelope: one copy each, not two for ann.
    both = send(server, [f"team@{DOMAIN}", f"ann@{DOMAIN}"], "team")
    wait_until(lambda: copies(server, f"ben@{DOMAIN}", both), what="ben's copy")
    wait_until(lambda: copies(server, f"ann@{DOMAIN}", both), what="ann's copy")
    assert len(copies(server, f"ann@{DOMAIN}", both)) == 1
    assert copies(server, f"sink@{DOMAIN}", both) == []

    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        code, reply = smtp.rcpt(f"nobody@{DOMAIN}")
    assert (code, reply[:5]) == (550, b"5.1.1")

    with server.api() as api:
        response = api.put(
            f"/api/v1/domains/{DOMAIN}/catch-all", json={"mailbox": f"sink@{DOMAIN}"}
        )
        assert response.status_code == 200, response.text
    stray = send(server, [f"nobody@{DOMAIN}"], "stray")
    wait_until(lambda: copies(server, f"sink@{DOMAIN}", stray), what="the catch-all's copy")
