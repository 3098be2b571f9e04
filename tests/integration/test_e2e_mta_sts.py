"""Scenario: `mairust up` delivers a submission to three domains through the loopback DNS
server, with `[outbound_tls]` naming the test's CA, the policy host's loopback network and
one require_tls domain. `sts.test` publishes an MTA-STS enforce policy (fetched over HTTPS
from 127.0.0.65 port 443) and its MX offers STARTTLS with a certificate from that CA:
delivered over TLS. `locked.test` publishes one too but its MX offers no STARTTLS, and
`needtls.test` (require_tls) has the same MX: both deferred with 4.7.4 in the trace, and
nothing reaches that MX in clear. With `[tls_reports]` on, the delivery loop writes the
TLS-RPT counts of all three to the metadata store."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from typing import Any

from mairust.config import load_settings
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.mairust.outbound.test_smtp_sender import port_free_on
from tests.support.dns_server import ZoneServer
from tests.support.mairust_server import wait_for
from tests.support.policy_host import PolicyHost
from tests.support.scripted_smtp import Script, ScriptedSmtpServer
from tests.support.tls_ca import LoopbackCa

POLICY_HOST = "127.0.0.65"
GOOD_MX, PLAIN_MX = "127.0.0.66", "127.0.0.67"
PASSWORD = "correct horse battery"
RECIPIENTS = ["ann@sts.test", "bob@locked.test", "cy@needtls.test"]
MESSAGE = (
    "From: Alice <alice@example.test>\r\nTo: ann@sts.test\r\n"
    "Subject: mta-sts e2e\r\nMessage-ID: <mta-sts-e2e@example.test>\r\n\r\nOver TLS only.\r\n"
)


def test_mta_sts_and_require_tls_through_mairust_up(new_server, tmp_path) -> None:
    ca = LoopbackCa(folder=tmp_path)
    port = port_free_on(GOOD_MX, PLAIN_MX)
    policy = "version: STSv1\nmode: enforce\nmx: {mx}\nmax_age: 86400\n"
    zone: dict[str, dict[str, Any]] = {
        "sts.test": {"MX": [(10, "mx.sts.test")]},
        "locked.test": {"MX": [(10, "mx.plain.test")]},
        "needtls.test": {"MX": [(10, "mx.plain.test")]},
        "mx.sts.test": {"A": [GOOD_MX]},
        "mx.plain.test": {"A": [PLAIN_MX]},
        "_mta-sts.sts.test": {"TXT": ["v=STSv1; id=2026113001;"]},
        "_mta-sts.locked.test": {"TXT": ["v=STSv1; id=2026113001;"]},
        "mta-sts.sts.test": {"A": [POLICY_HOST]},
        "mta-sts.locked.test": {"A": [POLICY_HOST]},
    }
    host_context = ca.server_context("mta-sts.sts.test", "mta-sts.locked.test")
    with (
        ZoneServer(zone) as dns,
        PolicyHost(POLICY_HOST, host_context) as policy_host,
        ScriptedSmtpServer(
            Script(), address=GOOD_MX, port=port, tls_context=ca.server_context("mx.sts.test")
        ) as good,
        ScriptedSmtpServer(Script(), address=PLAIN_MX, port=port) as plain,
    ):
        policy_host.serve_policy("sts.test", policy.format(mx="mx.sts.test"))
        policy_host.serve_policy("locked.test", policy.format(mx="mx.plain.test"))
        config = tmp_path / "mairust.toml"
        config.write_text(
            f'[dns]\nnameservers = ["127.0.0.1"]\nport = {dns.port}\ntimeout = 1.0\n'
            f"[outbound]\nport = {port}\npoll_interval = 0.2\n"
            f'[outbound_tls]\nca_file = "{ca.ca_file}"\n'
            'policy_allow_networks = ["127.0.0.0/8"]\nrequire_tls_domains = ["needtls.test"]\n'
            '[tls_reports]\nenabled = true\norg_name = "mx.example.test"\n'
            'sender = "tlsrpt@example.test"\nflush_seconds = 0.5\n'
        )
        server = new_server(config=config)
        added = server.cli(
            "user", "add", "alice@example.test", "--create-domain", "--password-stdin",
            stdin=PASSWORD,
        )  # fmt: skip
        assert added.returncode == 0, added.stdout + added.stderr
        server.start()
        with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login("alice@example.test", PASSWORD)
            client.sendmail("alice@example.test", RECIPIENTS, MESSAGE)

        wait_for(lambda: good.messages, timeout=60, what="the delivery to sts.test's MX")
        [session] = [log for log in good.sessions if log.messages]
        assert session.tls and session.messages[0].rcpt_tos == ["ann@sts.test"]
        with server.api() as api:

            def settled() -> list[dict[str, Any]] | None:
                rows = api.get("/api/v1/outbound", params={"limit": 10}).json()["items"]
                done = all(r["attempts"] >= 1 for r in rows) and len(rows) == 3
                return rows if done else None

            rows = wait_for(settled, timeout=60, what="an attempt at every recipient")
            states = {r["recipient"]: (r["state"], r["last_reply"] or "") for r in rows}
            assert states["ann@sts.test"][0] == "delivered"
            for recipient in ("bob@locked.test", "cy@needtls.test"):
                state, reply = states[recipient]
                assert state == "deferred" and "4.7.4" in reply, (recipient, state, reply)
                assert "not sent in clear" in reply
        assert plain.messages == []
        assert policy_host.fetches_for("sts.test") == 1
        # The TLS report counts, flushed by the delivery loop into the metadata store.
        url = load_settings(config, data_dir=server.data_dir).storage.metadata
        store = SqlMetadataStore(url)
        try:

            def counted() -> dict[tuple[str, str, str], int] | None:
                day = datetime.now(UTC).date()
                found = {
                    (c.key.policy_domain, c.key.policy_type, c.key.result_type): c.count
                    for c in store.tls_results(day)
                }
                return found if len(found) >= 3 else None

            counts = wait_for(counted, timeout=30, what="the TLS report counts in the store")
        finally:
            store.close()
        assert counts[("sts.test", "sts", "success")] == 1
        assert counts[("locked.test", "sts", "starttls-not-supported")] >= 1
        assert counts[("needtls.test", "no-policy-found", "starttls-not-supported")] >= 1
