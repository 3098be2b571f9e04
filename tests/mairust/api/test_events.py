"""The event log and message trace routes: paging, filters, the trace's three keys, and
isolation between tenants (each refused cell beside its positive twin)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from mairust.events import Event, RecordType
from mairust.model.ids import new_id
from mairust.model.principal import Permission, Role

from .conftest import MailSeeder, ProblemCheck, act_as_tenant, issue_token

ADMIN = (Permission.READ, Permission.ADMIN)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEADER = "<note-1@remote.example>"


def _story(tenant_id: str, queue_id: str) -> list[Event]:
    """A refusal before 250, then a reception and a delivery of one message."""
    return [
        Event(
            new_id(),
            tenant_id,
            RecordType.REJECTION,
            T0,
            header_message_id=HEADER,
            recipient="nobody@a.example",
            reply="550 5.1.1 No such user here",
            detail={"stage": "RCPT"},
        ),
        Event(
            new_id(),
            tenant_id,
            RecordType.RECEPTION,
            T0 + timedelta(seconds=1),
            message_id=queue_id,
            header_message_id=HEADER,
            recipient="jane@a.example",
        ),
        Event(
            new_id(),
            tenant_id,
            RecordType.DELIVERY,
            T0 + timedelta(seconds=2),
            message_id=queue_id,
            header_message_id=HEADER,
            recipient="jane@a.example",
            detail={"folder": "INBOX"},
        ),
    ]


async def test_the_log_pages_and_filters(
    app: FastAPI, client: httpx.AsyncClient, seeder: MailSeeder
) -> None:
    tenant = seeder.tenant("a.example")
    story = _story(tenant.id, "q1")
    seeder.stores.metadata.append_events(story)
    act_as_tenant(app, client, tenant.id, ADMIN)
    first = (await client.get("/api/v1/events", params={"limit": 2})).json()
    assert [e["type"] for e in first["items"]] == ["Delivery", "Reception"]
    second = await client.get("/api/v1/events", params={"limit": 2, "before": first["next"]})
    assert [e["type"] for e in second.json()["items"]] == ["Rejection"]
    assert second.json()["next"] is None
    refused = (await client.get("/api/v1/events", params={"type": "Rejection"})).json()["items"]
    assert refused[0]["reply"] == "550 5.1.1 No such user here"
    assert refused[0]["message_id"] == HEADER and refused[0]["queue_id"] is None
    later = await client.get("/api/v1/events", params={"since": "2026-03-01T12:00:01Z"})
    assert [e["type"] for e in later.json()["items"]] == ["Delivery", "Reception"]


async def test_a_trace_tells_the_whole_story(
    app: FastAPI, client: httpx.AsyncClient, seeder: MailSeeder, expect_problem: ProblemCheck
) -> None:
    tenant = seeder.tenant("a.example")
    seeder.stores.metadata.append_events(_story(tenant.id, "q1"))
    act_as_tenant(app, client, tenant.id, ADMIN)
    by_header = await client.get("/api/v1/events/trace", params={"message_id": HEADER})
    assert [e["type"] for e in by_header.json()["items"]] == ["Rejection", "Reception", "Delivery"]
    by_queue = await client.get("/api/v1/events/trace", params={"queue_id": "q1"})
    assert [e["type"] for e in by_queue.json()["items"]] == ["Reception", "Delivery"]
    by_rcpt = await client.get("/api/v1/events/trace", params={"recipient": "Nobody@A.example"})
    assert [e["type"] for e in by_rcpt.json()["items"]] == ["Rejection"]
    expect_problem(await client.get("/api/v1/events/trace"), 422)
    both = {"queue_id": "q1", "recipient": "jane@a.example"}
    expect_problem(await client.get("/api/v1/events/trace", params=both), 422)
    expect_problem(await client.get("/api/v1/events/trace", params={"message_id": "junk"}), 422)


async def test_another_tenant_sees_nothing(
    app: FastAPI, client: httpx.AsyncClient, seeder: MailSeeder, expect_problem: ProblemCheck
) -> None:
    a, b = seeder.tenant("a.example"), seeder.tenant("b.example")
    story = _story(a.id, "q1")
    seeder.stores.metadata.append_events(story)
    owner = f"Bearer {issue_token(app, Role.TENANT_ADMIN, a.id, permissions=ADMIN)}"
    stranger = f"Bearer {issue_token(app, Role.TENANT_ADMIN, b.id, permissions=ADMIN)}"
    cells = [
        ("/api/v1/events", {}),
        ("/api/v1/events/trace", {"message_id": HEADER}),
        ("/api/v1/events/trace", {"queue_id": "q1"}),
        ("/api/v1/events/trace", {"recipient": "jane@a.example"}),
    ]
    for url, params in cells:
        client.headers["Authorization"] = stranger
        response = await client.get(url, params=params)
        assert response.status_code == 200 and response.json()["items"] == [], (url, params)
        client.headers["Authorization"] = owner
        response = await client.get(url, params=params)
        assert response.status_code == 200 and response.json()["items"], (url, params)
    # A cursor from A's log is not B's to use: refused exactly like a cursor that never was.
    client.headers["Authorization"] = stranger
    foreign = await client.get("/api/v1/events", params={"before": story[0].id})
    unknown = await client.get("/api/v1/events", params={"before": "01ARZ3NDEKTSV4RRFFQ69G5FAV"})
    assert expect_problem(foreign, 422)["detail"] == expect_problem(unknown, 422)["detail"]
    # A user (one mailbox) reads no tenant events.
    mailbox = seeder.mailbox("jane@a.example")
    user = issue_token(app, Role.USER, a.id, mailbox.id)
    client.headers["Authorization"] = f"Bearer {user}"
    expect_problem(await client.get("/api/v1/events"), 403)
