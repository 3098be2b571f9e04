"""Scenario: a tenant's domain policy and routing rules changed over the API of a running
`mairust up` (embedded, and on PostgreSQL + S3 + OpenSearch) change what real SMTP sessions
get, with no restart: a size limit, a routing rule into a mailbox, a forward off the
platform (queued for its target with an SRS reverse path), and a per-minute allowance."""

from __future__ import annotations

import re
import smtplib
from typing import Any

import httpx
import pytest

from tests.support.mairust_server import ADMIN_TOKEN

DOMAIN = "policy.test"
BIG_BODY = "\r\n".join(["y" * 70] * 45)  # ~3.2 KB in lines of legal length


@pytest.fixture(scope="module")
def server(shared_server):
    added = shared_server.cli("domain", "add", DOMAIN)
    assert added.returncode == 0, added.stdout + added.stderr
    for user in ("ann", "sales"):
        shared_server.add_user(f"{user}@{DOMAIN}")
    return shared_server


def attempt(server, rcpt: str, body: str = "hello") -> tuple[int, str]:
    """One transaction; the first refusal's (code, text), or the reply to DATA."""
    data = f"From: x@remote.example\r\nSubject: policy\r\n\r\n{body}\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        code, reply = smtp.rcpt(rcpt)
        if code != 250:
            return code, reply.decode()
        code, reply = smtp.data(data)
        return code, reply.decode()


def queued_id(reply: str) -> str:
    match = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply)
    assert match, reply
    return match.group(1)


def copies(server, mailbox: str, message_id: str) -> list[dict[str, Any]]:
    with server.api() as api:
        response = api.get("/api/v1/messages", params={"mailbox": mailbox})
    assert response.status_code == 200, response.text
    return [m for m in response.json()["items"] if m["message_id"] == message_id]


def test_policy_and_rules_take_effect_without_a_restart(server, wait_until):
    code, reply = attempt(server, f"ann@{DOMAIN}", BIG_BODY)
    assert code == 250, reply
    paths = f"/api/v1/domains/{DOMAIN}"
    # From another loopback address: the audit log (and the log-in throttle) must see the
    # client's address through Serve's proxy, not the proxy's own.
    with httpx.Client(
        base_url=f"http://127.0.0.1:{server.api_port}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        transport=httpx.HTTPTransport(local_address="127.0.0.7"),
        timeout=30,
    ) as api:
        answer = api.put(f"{paths}/policy", json={"max_message_bytes": 2000})
        assert answer.status_code == 200, answer.text
        assert answer.json()["effective"]["max_message_bytes"] == 2000
        audit = api.get("/api/v1/audit", params={"limit": 50}).json()["items"]
    [record] = [r for r in audit if r["action"] == "domain.policy.set"]
    assert record["target"] == DOMAIN and record["source"] == "127.0.0.7", record
    # The front-ends' route cache forgets within smtp.recipient_cache_seconds (10 s).
    wait_until(
        lambda: attempt(server, f"ann@{DOMAIN}", BIG_BODY)[0] == 552,
        timeout=30,
        interval=1,
        what="the new size limit",
    )
    code, reply = attempt(server, f"ann@{DOMAIN}", "small enough")
    assert code == 250, reply

    # An unknown address is never cached: a rule is in force at once.
    code, reply = attempt(server, f"orders-1@{DOMAIN}")
    assert (code, reply[:5]) == (550, "5.1.1")
    with server.api() as api:
        made = api.post(
            f"{paths}/routes",
            json={"pattern": "orders-*", "action": "local", "target": f"sales@{DOMAIN}"},
        )
        assert made.status_code == 201, made.text
        leaving = api.post(
            f"{paths}/routes",
            json={"pattern": "*", "action": "forward", "target": "boss@remote.example"},
        )
        assert leaving.status_code == 201, leaving.text
    code, reply = attempt(server, f"orders-1@{DOMAIN}")
    assert code == 250, reply
    order = queued_id(reply)
    wait_until(lambda: copies(server, f"sales@{DOMAIN}", order), what="the routed copy")
    code, reply = attempt(server, f"someone@{DOMAIN}")
    assert code == 250, reply
    forwarded = queued_id(reply)

    with server.api() as api:
        answer = api.put(f"{paths}/policy", json={"messages_per_minute": 1})
        assert answer.status_code == 200, answer.text
        trace = api.get("/api/v1/events/trace", params={"recipient": f"someone@{DOMAIN}"})
        rows = api.get("/api/v1/outbound", params={"message_id": forwarded}).json()["items"]
    # The forward is an outbound row for the rule's target, its reverse path our SRS
    # address for the sender; its reception is in the tenant's trace.
    [row] = rows
    assert row["recipient"] == "boss@remote.example"
    assert row["mail_from"].startswith("SRS0="), row
    assert row["mail_from"].endswith(f"=remote.example=x@{DOMAIN}"), row
    assert trace.status_code == 200, trace.text
    assert forwarded in trace.text

    def refused_for_rate() -> bool:
        return attempt(server, f"ann@{DOMAIN}")[0] == 450

    wait_until(refused_for_rate, timeout=40, interval=0.5, what="the per-minute allowance")
