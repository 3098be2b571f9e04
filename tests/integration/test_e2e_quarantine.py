"""Scenario: a real loopback http plugin bound at pre_receive and pre_delivery of a running
`mairust up` (embedded, and on PostgreSQL + S3 + OpenSearch). Over real SMTP, the message
it quarantines at pre_receive is held (not in the inbox, listed in Quarantine), released
over the API into INBOX with a QuarantineReleased event in the tenant's log; the message it
rejects at pre_delivery is never stored and its queue row fails with 5.7.1."""

from __future__ import annotations

import re
import smtplib
from pathlib import Path
from typing import Any

from tests.support.hook_plugin_service import SPAM_REPLY, rule_plugin

HOOKS = """
[hooks]
allow_networks = ["127.0.0.1/32"]
bindings_cache_seconds = 0.5
deadline_seconds = 5.0
"""
ALICE = "alice@example.test"


def send(server: Any, subject: str) -> tuple[int, str]:
    data = f"From: x@remote.example\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        code, reply = smtp.rcpt(ALICE)
        assert code == 250, reply
        code, reply = smtp.data(data)
    return code, reply.decode()


def queued(server: Any, subject: str) -> str:
    code, reply = send(server, subject)
    assert code == 250, reply
    found = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply)
    assert found, reply
    return found.group(1)


def listed(server: Any, path: str, **params: Any) -> list[dict[str, Any]]:
    with server.api() as api:
        answer = api.get(path, params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_quarantine_at_pre_receive_and_reject_at_pre_delivery(
    new_server, server_config, tmp_path: Path, wait_until
):
    with rule_plugin() as plugin:
        server = new_server(config=server_config(HOOKS))
        server.start()
        server.add_user(ALICE)
        directory = plugin.package(
            tmp_path,
            name="quarantine-rule",
            points=("pre_receive", "pre_delivery"),
            permissions=("reject", "quarantine", "tag", "headers"),
        )
        with server.api() as api:
            installed = api.post("/api/v1/admin/plugins", json={"path": str(directory)})
            assert installed.status_code == 201, installed.text
        points = {b["point"] for b in listed(server, "/api/v1/admin/hooks")}
        assert points == {"pre_receive", "pre_delivery"}
        # The front-end reads bindings every 0.5 s: spam is refused once it has.
        wait_until(
            lambda: send(server, "buy spam now") == (554, SPAM_REPLY[4:]),
            timeout=30,
            interval=0.5,
            what="the plugin's refusal at pre_receive",
        )

        held_id = queued(server, "please quarantine me")
        [held] = wait_until(
            lambda: [
                m
                for m in listed(server, "/api/v1/quarantine", mailbox=ALICE)
                if m["message_id"] == held_id
            ],
            what="the quarantined message in Quarantine",
        )
        assert (held["folder"], held["release_to"]) == ("Quarantine", "INBOX")
        inbox = listed(server, "/api/v1/messages", mailbox=ALICE)
        assert held_id not in {m["message_id"] for m in inbox}

        refused_id = queued(server, "refuse me at delivery")
        [failed] = wait_until(
            lambda: [
                row
                for row in listed(server, "/api/v1/queue", state="failed")
                if row["message_id"] == refused_id
            ],
            what="the pre_delivery rejection's failed queue row",
        )
        assert failed["last_error"].startswith("5.7.1 rejected by quarantine-rule")
        assert "refused at delivery" in failed["last_error"]

        with server.api() as api:
            released = api.post(f"/api/v1/quarantine/{held['id']}/release")
        assert released.status_code == 200, released.text
        assert released.json()["folder"] == "INBOX"
        inbox = listed(server, "/api/v1/messages", mailbox=ALICE)
        assert held_id in {m["message_id"] for m in inbox}
        # Never stored: the rejected message is in no folder at all.
        assert refused_id not in {m["message_id"] for m in inbox}
        assert refused_id not in {
            m["message_id"] for m in listed(server, "/api/v1/quarantine", mailbox=ALICE)
        }
        [event] = [
            e
            for e in listed(server, "/api/v1/events", type="QuarantineReleased")
            if e["queue_id"] == held_id
        ]
        assert event["recipient"] == ALICE
        assert event["detail"]["entry_id"] == held["id"]

        # pre_delivery asked about each copy with its one recipient.
        at_delivery = [r for r in plugin.requests if r["point"] == "pre_delivery"]
        assert at_delivery
        assert all(r["envelope"]["rcpt_tos"] == [ALICE] for r in at_delivery)
