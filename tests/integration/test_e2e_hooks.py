"""Scenario: an http plugin installed and bound over the admin API of a running `mairust up`
(embedded, and on PostgreSQL + S3 + OpenSearch) decides at pre_receive over real SMTP: spam
is refused with the plugin's own reply and never stored, other mail is delivered with the
plugin's tag and header; in shadow mode the spam is delivered and the verdict only logged;
the plugin is only ever given the scopes its manifest names."""

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


def send(server, subject: str) -> tuple[int, str]:
    data = f"From: x@remote.example\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        code, reply = smtp.rcpt("alice@example.test")
        assert code == 250, reply
        code, reply = smtp.data(data)
    return code, reply.decode()


def messages(server) -> list[dict[str, Any]]:
    with server.api() as api:
        answer = api.get("/api/v1/messages", params={"mailbox": "alice@example.test"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_an_http_plugin_decides_at_pre_receive(
    new_server, server_config, tmp_path: Path, wait_until
):
    with rule_plugin() as plugin:
        server = new_server(config=server_config(HOOKS))
        server.start()
        server.add_user("alice@example.test")
        directory = plugin.package(tmp_path)
        with server.api() as api:
            installed = api.post("/api/v1/admin/plugins", json={"path": str(directory)})
            assert installed.status_code == 201, installed.text
            [binding] = api.get("/api/v1/admin/hooks", params={"point": "pre_receive"}).json()[
                "items"
            ]

        # The front-end reads bindings every 0.5 s: spam is refused once it has.
        wait_until(
            lambda: send(server, "buy spam now") == (554, SPAM_REPLY[4:]),
            timeout=30,
            interval=0.5,
            what="the plugin's refusal",
        )
        code, reply = send(server, "quarterly numbers")
        assert code == 250, reply
        queue_id = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply)
        assert queue_id
        delivered = wait_until(
            lambda: [m for m in messages(server) if m["message_id"] == queue_id.group(1)],
            what="the accepted message in the mailbox",
        )
        assert "rule-checked" in delivered[0]["tags"]
        with server.api() as api:
            raw = api.get(f"/api/v1/messages/{delivered[0]['id']}/raw")
        assert b"X-Rule-Plugin: checked" in raw.content
        assert not [m for m in messages(server) if "spam" in (m["subject"] or "")]

        # Scopes: headers and envelope only, never a body byte.
        assert plugin.requests
        for request in plugin.requests:
            assert request["point"] == "pre_receive"
            assert request["scopes"] == ["envelope", "headers"]
            assert request["body_base64"] is None and request["body_preview"] is None
            assert request["attachments"] is None

        # Shadow: the plugin is still asked, its verdict is not applied.
        with server.api() as api:
            changed = api.patch(f"/api/v1/admin/hooks/{binding['id']}", json={"mode": "shadow"})
            assert changed.status_code == 200, changed.text
        asked = len(plugin.requests)
        wait_until(
            lambda: send(server, "more spam")[0] == 250,
            timeout=30,
            interval=0.5,
            what="spam accepted in shadow mode",
        )
        assert len(plugin.requests) > asked

        # Every call is in the plugin's log (recorded in batches: within a second or so).
        def log() -> dict[str, Any] | None:
            with server.api() as api:
                answer = api.get("/api/v1/admin/plugins/spam-rule/calls").json()
            modes = {item["mode"] for item in answer["items"]}
            return answer if modes == {"enforce", "shadow"} else None

        calls = wait_until(log, timeout=30, what="the calls in the plugin's log")
        assert calls["summary"]["by_verdict"]["reject"] >= 2
        assert calls["summary"]["by_outcome"] == {"answered": calls["summary"]["calls"]}
        assert calls["summary"]["latency_p50_ms"] is not None
