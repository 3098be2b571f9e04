"""Scenario: kill -9 of every process of `mairust up` in the middle of an outbound delivery
run. Sixty submitted messages for three domains go to a slow MX on loopback; once some have
arrived, everything is killed; after a restart every message arrives, and a message arrives
twice only if its session was in flight at the kill (at most the sessions that can be open
at once, times the messages one session carries)."""

from __future__ import annotations

import smtplib
from collections import Counter
from typing import Any

from tests.mairust.outbound.test_smtp_sender import port_free_on
from tests.support.dns_server import ZoneServer
from tests.support.mairust_server import wait_for
from tests.support.outbound_server import PASSWORD, outbound_server
from tests.support.scripted_smtp import Script, ScriptedSmtpServer

MX_ADDRESS = "127.0.0.53"
MESSAGES = 60
DOMAINS = ("d1.test", "d2.test", "d3.test")
PER_SESSION = 5
LANES = 2  # sessions to one destination at once


def message_ids(mx: ScriptedSmtpServer) -> Counter[str]:
    found: Counter[str] = Counter()
    for received in mx.messages:
        for line in received.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                found[line.split(b":", 1)[1].strip().decode()] += 1
    return found


def test_a_kill_mid_delivery_loses_nothing_and_repeats_only_sessions_in_flight(
    new_server, tmp_path
) -> None:
    port = port_free_on(MX_ADDRESS)
    zone: dict[str, dict[str, Any]] = {"mx.all.test": {"A": [MX_ADDRESS]}}
    zone |= {domain: {"MX": [(10, "mx.all.test")]} for domain in DOMAINS}
    with (
        ZoneServer(zone) as dns,
        ScriptedSmtpServer(Script(data_delay=0.4), address=MX_ADDRESS, port=port) as mx,
    ):
        server = outbound_server(
            new_server,
            tmp_path,
            dns.port,
            port,
            batch_size=MESSAGES,
            messages_per_connection=PER_SESSION,
            connections_per_destination=LANES,
            # A killed loop's leases are taken back by its next start, not by expiry.
            lease_seconds=600,
        )
        sent = []
        with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as client:
            client.ehlo("client.test")
            client.login("alice@example.test", PASSWORD)
            for n in range(MESSAGES):
                message_id = f"<kill-{n}@example.test>"
                to = f"r{n}@{DOMAINS[n % len(DOMAINS)]}"
                body = (
                    f"From: alice@example.test\r\nTo: {to}\r\nMessage-ID: {message_id}\r\n\r\nx\r\n"
                )
                client.sendmail("alice@example.test", [to], body)
                sent.append(message_id)

        wait_for(lambda: len(mx.messages) >= 10, timeout=60, what="the first deliveries")
        before = len(mx.messages)
        server.kill9()
        assert before < MESSAGES, "the run was over before the kill: nothing was tested"

        server.start()
        wait_for(lambda: set(message_ids(mx)) >= set(sent), timeout=120, what="every message")
        with server.api() as api:
            wait_for(
                lambda: api.get("/api/v1/outbound/stats").json()["counts"]["delivered"] == MESSAGES,
                timeout=60,
                what="every recipient settled as delivered",
            )
        counts = message_ids(mx)
        assert set(counts) == set(sent)
        repeated = sum(n - 1 for n in counts.values())
        in_flight_at_most = len(DOMAINS) * LANES * PER_SESSION
        assert repeated <= in_flight_at_most, (repeated, counts)
