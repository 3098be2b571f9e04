"""Scenario: `POST /api/v1/send` through the real Serve ingress of `mairust up`: the message
lands in local mailboxes (with our API trace header) and is found by search; a remote
recipient is refused with nothing queued; a message over the API's usual 1 MiB cap fits."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

PASSWORD = "send-scenario-pw"


@pytest.fixture(scope="module")
def server(shared_server):
    shared_server.add_user("dora@example.test")
    shared_server.add_user("eli@example.test")
    result = shared_server.cli(
        "user", "add", "fay@example.test", "--password-stdin", stdin=PASSWORD
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return shared_server


def entries_for(server, wait_until, mailbox: str, queue_id: str) -> list[dict[str, Any]]:
    def found():
        with server.api() as api:
            response = api.get("/api/v1/messages", params={"mailbox": mailbox})
            assert response.status_code == 200, response.text
            return [m for m in response.json()["items"] if m["message_id"] == queue_id]

    return wait_until(found, what=f"{queue_id} in {mailbox}")


def search_hits(server, q: str) -> list[str]:
    with server.api() as api:
        response = api.get("/api/v1/search", params={"q": q})
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]


def test_a_sent_message_is_delivered_to_local_mailboxes_and_searchable(server, wait_until):
    with server.api() as api:
        response = api.post(
            "/api/v1/send",
            json={
                "from": {"address": "dora@example.test", "name": "Dora"},
                "to": ["eli@example.test"],
                "bcc": ["fay@example.test"],
                "subject": "Orchard inventory",
                "text": "Seventeen quinces and a persimmon.\n",
                "html": "<p>Seventeen quinces and a persimmon.</p>",
            },
        )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["recipients"] == ["eli@example.test", "fay@example.test"]

    [entry] = entries_for(server, wait_until, "eli@example.test", accepted["queue_id"])
    assert entry["subject"] == "Orchard inventory"
    assert entry["from"] == "dora@example.test"
    entries_for(server, wait_until, "fay@example.test", accepted["queue_id"])

    with server.api() as api:
        raw = api.get(f"/api/v1/messages/{entry['id']}/raw").content
    assert raw.startswith(b"Received: from api ([127.0.0.1])\r\n")
    assert b"(MaiRust API, authenticated as admin-token role admin)" in raw
    assert f"with HTTP id {accepted['queue_id']}".encode() in raw
    assert f"Message-ID: {accepted['message_id']}".encode() in raw
    assert b"fay@example.test" not in raw  # the Bcc is in the envelope only
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")

    hits = wait_until(lambda: search_hits(server, "quinces"), what="body search")
    assert entry["id"] in hits
    assert entry["id"] in search_hits(server, "orchard")


def test_a_user_logged_in_sends_as_themselves_only(server, wait_until):
    with server.api() as api:
        login = api.post(
            "/api/v1/auth/token", json={"address": "fay@example.test", "password": PASSWORD}
        )
    assert login.status_code == 201, login.text
    with httpx.Client(
        base_url=f"http://127.0.0.1:{server.api_port}",
        headers={"Authorization": f"Bearer {login.json()['token']}"},
        timeout=60,
    ) as fay:
        other = fay.post(
            "/api/v1/send",
            json={"from": "dora@example.test", "to": ["eli@example.test"], "text": "x"},
        )
        assert other.status_code == 403, other.text
        own = fay.post(
            "/api/v1/send",
            json={"from": "fay@example.test", "to": ["eli@example.test"], "text": "from fay"},
        )
    assert own.status_code == 202, own.text
    entries_for(server, wait_until, "eli@example.test", own.json()["queue_id"])


def test_a_remote_recipient_is_queued_for_outbound_and_an_unknown_local_one_refused(server):
    with server.api() as api:
        before = api.get("/api/v1/queue/stats").json()["total"]
        refused = api.post(
            "/api/v1/send",
            json={
                "from": "dora@example.test",
                "to": ["nobody-here@example.test", "someone@remote.example"],
                "text": "one of them does not exist",
            },
        )
        assert api.get("/api/v1/queue/stats").json()["total"] == before
        sent = api.post(
            "/api/v1/send",
            json={
                "from": "dora@example.test",
                "to": ["eli@example.test", "someone@remote.example"],
                "text": "for the inside and the outside",
            },
        )
        assert sent.status_code == 202, sent.text
        queue_id = sent.json()["queue_id"]
        outbound = api.get("/api/v1/outbound", params={"message_id": queue_id}).json()["items"]
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    detail = refused.json()["detail"]
    assert "nobody-here@example.test" in detail and "someone@remote.example" not in detail
    assert [(r["recipient"], r["destination"]) for r in outbound] == [
        ("someone@remote.example", "remote.example")
    ]


def test_a_message_larger_than_one_mib_is_sent_through_the_ingress(server, wait_until):
    payload = bytes(range(256)) * (6 * 1024)  # 1.5 MiB, 2 MiB as base64
    with server.api() as api:
        response = api.post(
            "/api/v1/send",
            json={
                "from": "dora@example.test",
                "to": ["eli@example.test"],
                "subject": "the big table",
                "text": "attached",
                "attachments": [
                    {"filename": "table.bin", "content": base64.b64encode(payload).decode()}
                ],
            },
        )
        assert response.status_code == 202, response.text
        other_route = api.post("/api/v1/domains", json={"name": "x" * (2 * 1024 * 1024)})
    assert other_route.status_code == 413
    [entry] = entries_for(server, wait_until, "eli@example.test", response.json()["queue_id"])
    assert entry["size"] > len(payload)
