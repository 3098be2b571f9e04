"""Scenario: mail in over SMTP to `mairust up` is recorded as events (a refusal before the
250, the reception, the delivery), a trace by Message-ID tells that story, and a tenant's
webhook endpoint (a loopback receiver the config allow-lists) gets each event, signed so
that it verifies with the secret shown once at creation."""

from __future__ import annotations

import json
import smtplib
import time

from mairust.webhooks.signing import verify
from tests.support.http_sink import http_sink

HEADER = "<e2e-events-1@remote.example>"
WEBHOOKS = """
[webhooks]
allow_networks = ["127.0.0.1/32"]
allow_http = true
poll_interval = 0.2
"""


def tenant_of(server, domain: str) -> str:
    with server.api() as api:
        domains = api.get("/api/v1/domains").json()["items"]
    return next(d["tenant_id"] for d in domains if d["name"] == domain)


def send_with_one_refusal(server) -> str:
    message = (
        "From: Sender <sender@remote.example>\r\nTo: alice@example.test\r\n"
        f"Subject: events\r\nMessage-ID: {HEADER}\r\n\r\nTrace me.\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        assert smtp.mail("sender@remote.example")[0] == 250
        code, _ = smtp.rcpt("nobody@example.test")
        assert code == 550
        assert smtp.rcpt("alice@example.test")[0] == 250
        code, reply = smtp.data(message)
    assert code == 250, reply
    return reply.decode().rsplit(" ", 1)[-1]


def test_events_are_traced_and_sent_to_signed_webhooks(new_server, server_config, wait_until):
    with http_sink() as sink:
        server = new_server(config=server_config(WEBHOOKS))
        server.start()
        server.add_user("alice@example.test")
        tenant_id = tenant_of(server, "example.test")
        with server.api() as api:
            created = api.post(
                "/api/v1/webhooks", json={"url": sink.url("/events"), "tenant_id": tenant_id}
            )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        queue_id = send_with_one_refusal(server)

        seen: list[dict[str, object]] = []

        def story() -> list[dict[str, object]] | None:
            with server.api() as api:
                response = api.get("/api/v1/events/trace", params={"message_id": HEADER})
            assert response.status_code == 200, response.text
            seen[:] = response.json()["items"]
            return list(seen) if len(seen) >= 3 else None

        try:
            items = wait_until(story, timeout=60, what="received, refused and delivered events")
        except AssertionError:
            with server.api() as api:
                log = api.get("/api/v1/events").json()
            raise AssertionError(f"trace: {seen}; log: {log}") from None
        assert [item["type"] for item in items] == ["Rejection", "Reception", "Delivery"]
        refused, received, delivered = items
        assert refused["recipient"] == "nobody@example.test"
        assert str(refused["reply"]).startswith("550 5.1.1")
        # Refused in the transaction that then got its 250: recorded under the same id.
        assert refused["queue_id"] == received["queue_id"] == delivered["queue_id"] == queue_id
        assert delivered["recipient"] == "alice@example.test"

        requests = sink.wait_for(3, timeout=60)
        assert len(requests) >= 3, requests
        types = set()
        for request in requests:
            assert request.method == "POST" and request.path == "/events"
            verify(secret, request.headers, request.body, time.time())  # raises if not
            payload = json.loads(request.body)
            types.add(payload["type"])
            assert payload["data"]["message_id"] == queue_id
        assert types == {"message.rejected", "message.received", "message.delivered"}

        endpoint_id = created.json()["id"]

        def delivered_all() -> list[dict[str, object]] | None:
            with server.api() as api:
                found = api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries").json()["items"]
            return found if found and all(d["state"] == "delivered" for d in found) else None

        deliveries = wait_until(delivered_all, timeout=30, what="deliveries settled")
        assert len(deliveries) == 3
        server.stop()
