"""Scenario: a user submits over SMTP AUTH to two remote recipients behind the loopback DNS
server's MX; `mairust up` signs it (rsa2048 and ed25519 keys made through the API), finds
the MX, delivers one recipient to a real SMTP server on another loopback address, and
bounces the other (550): one DSN lands in the user's own mailbox, the dead address joins the
tenant's suppression list, and the attempts show in the outbound trace."""

from __future__ import annotations

import email
import smtplib
from email.policy import default
from typing import Any

from mairust.auth.dkim import verify_dkim
from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import DkimWord
from tests.mairust.outbound.test_smtp_sender import port_free_on
from tests.support.dns_server import ZoneServer
from tests.support.mairust_server import wait_for
from tests.support.outbound_server import PASSWORD, outbound_server
from tests.support.scripted_smtp import Script, ScriptedSmtpServer

MX_ADDRESS = "127.0.0.52"
MESSAGE = (
    "From: Alice <alice@example.test>\r\nTo: joe@d0.test, nobody@d0.test\r\n"
    "Subject: outbound e2e\r\nMessage-ID: <outbound-e2e@example.test>\r\n\r\nHello out there.\r\n"
)


def test_submission_is_signed_delivered_bounced_and_traced(new_server, tmp_path) -> None:
    port = port_free_on(MX_ADDRESS)
    zone: dict[str, dict[str, Any]] = {
        "d0.test": {"MX": [(10, "mx.d0.test")]},
        "mx.d0.test": {"A": [MX_ADDRESS]},
    }
    script = Script(rcpt={"nobody@d0.test": ["550 5.1.1 No such user here"] * 5})
    with (
        ZoneServer(zone) as dns,
        ScriptedSmtpServer(script, address=MX_ADDRESS, port=port) as mx,
    ):
        server = outbound_server(new_server, tmp_path, dns.port, port)
        with server.api() as api:
            for algorithm in ("rsa2048", "ed25519"):
                made = api.post(
                    "/api/v1/domains/example.test/dkim-keys", json={"algorithm": algorithm}
                )
                assert made.status_code == 201, made.text
                key = made.json()
                dns.records[key["dns_name"].rstrip(".").lower()] = {"TXT": [key["dns_record"]]}

            with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as client:
                client.ehlo("client.test")
                client.login("alice@example.test", PASSWORD)
                client.sendmail("alice@example.test", ["joe@d0.test", "nobody@d0.test"], MESSAGE)

            wait_for(lambda: mx.messages, timeout=60, what="the delivery to d0.test's MX")
            [delivered] = mx.messages
            assert delivered.rcpt_tos == ["joe@d0.test"]
            assert delivered.mail_from == "alice@example.test"
            resolver = CachingResolver(["127.0.0.1"], port=dns.port, timeout=1.0)
            results = verify_dkim(resolver, delivered.content)
            assert sorted(r.algorithm for r in results) == ["ed25519-sha256", "rsa-sha256"]
            assert {r.result for r in results} == {DkimWord.PASS}

            def dsn_entry() -> dict[str, Any] | None:
                items = api.get("/api/v1/messages", params={"limit": 50}).json()["items"]
                return next((i for i in items if "outbound e2e" not in i["subject"]), None)

            entry = wait_for(dsn_entry, timeout=60, what="the DSN in alice's mailbox")
            raw = api.get(f"/api/v1/messages/{entry['id']}/raw").content
            dsn = email.message_from_bytes(raw, policy=default)
            assert dsn.get_content_type() == "multipart/report"
            assert "nobody@d0.test" in raw.decode() and "5.1.1" in raw.decode()

            listed = api.get("/api/v1/outbound", params={"limit": 10}).json()["items"]
            original = next(r["message_id"] for r in listed if r["recipient"] == "joe@d0.test")
            trace = api.get(f"/api/v1/outbound/messages/{original}/attempts").json()["items"]
            assert sorted((a["recipient"], a["result"]) for a in trace) == [
                ("joe@d0.test", "delivered"),
                ("nobody@d0.test", "bounced"),
            ]
            assert {a["address"] for a in trace} == {MX_ADDRESS}
            suppressed = api.get("/api/v1/suppressions").json()["items"]
            assert [(s["address"], s["reason"]) for s in suppressed] == [
                ("nobody@d0.test", "hard_bounce")
            ]
        # Sending to it again is refused at RCPT, with the reason.
        with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login("alice@example.test", PASSWORD)
            client.mail("alice@example.test")
            code, text = client.rcpt("nobody@d0.test")
        assert (code, text.decode()) == (
            550,
            "5.7.1 Recipient is on this account's suppression list (hard_bounce)",
        )
