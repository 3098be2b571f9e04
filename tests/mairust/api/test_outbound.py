"""The outbound queue routes: remote recipients listed in the caller's tenant, a message's
attempts, and hold / release / retry / bounce / delete on waiting recipients (the app's own
spool runs, so the send route queues real rows)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from mairust.model.directory import Mailbox, Tenant
from mairust.model.outbound import AttemptOutcome, AttemptResult, DeliveryAttempt
from mairust.model.principal import Permission, Role
from mairust.model.scope import TenantScope
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import MailSeeder, assert_problem, issue_token

OUTBOUND = "/api/v1/outbound"


class World:
    def __init__(self, app: FastAPI, seeder: MailSeeder) -> None:
        self.app = app
        self.a: Tenant = seeder.tenant("a.example")
        self.b: Tenant = seeder.tenant("b.example")
        self.alice: Mailbox = seeder.mailbox("alice@a.example")
        self.bob: Mailbox = seeder.mailbox("bob@b.example")

    def admin_of(self, tenant: Tenant, *permissions: Permission) -> dict[str, str]:
        granted = permissions or (Permission.READ, Permission.ADMIN)
        token = issue_token(self.app, Role.TENANT_ADMIN, tenant.id, permissions=granted)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(app: FastAPI, seeder: MailSeeder) -> World:
    return World(app, seeder)


async def send(client: httpx.AsyncClient, sender: str, *to: str) -> str:
    sent = await client.post("/api/v1/send", json={"from": sender, "to": list(to), "text": "hi"})
    assert sent.status_code == 202, sent.text
    queue_id: str = sent.json()["queue_id"]
    return queue_id


async def test_a_tenant_admin_lists_its_own_remote_recipients_only(
    serving: None, client: httpx.AsyncClient, world: World
) -> None:
    mine = await send(client, "alice@a.example", "joe@far.example", "kim@near.example")
    theirs = await send(client, "bob@b.example", "joe@far.example")

    listed = await client.get(OUTBOUND, headers=world.admin_of(world.a))
    assert listed.status_code == 200, listed.text
    rows = listed.json()["items"]
    assert {row["message_id"] for row in rows} == {mine}
    assert {(row["recipient"], row["destination"], row["state"]) for row in rows} == {
        ("joe@far.example", "far.example", "scheduled"),
        ("kim@near.example", "near.example", "scheduled"),
    }
    assert all(row["delay_notified_at"] is None for row in rows)  # no delay DSN yet
    one = await client.get(
        OUTBOUND, params={"destination": "near.example"}, headers=world.admin_of(world.a)
    )
    assert [row["recipient"] for row in one.json()["items"]] == ["kim@near.example"]
    # The operator sees both tenants' rows.
    everyone = (await client.get(OUTBOUND, params={"limit": 1000})).json()["items"]
    assert {mine, theirs} <= {row["message_id"] for row in everyone}


async def test_state_given_several_times_lists_rows_in_any_of_them(
    serving: None, client: httpx.AsyncClient, world: World
) -> None:
    """What the queue page asks for: the mail waiting (scheduled, deferred or held)."""
    await send(client, "alice@a.example", "joe@far.example", "kim@near.example")
    a_admin = world.admin_of(world.a)
    rows = (await client.get(OUTBOUND, headers=a_admin)).json()["items"]
    kim = next(row["id"] for row in rows if row["recipient"] == "kim@near.example")
    held = await client.post(f"{OUTBOUND}/hold", json={"ids": [kim]}, headers=a_admin)
    assert held.status_code == 200, held.text

    async def listed(*states: str) -> set[str]:
        answer = await client.get(OUTBOUND, params={"state": list(states)}, headers=a_admin)
        assert answer.status_code == 200, answer.text
        return {row["recipient"] for row in answer.json()["items"]}

    assert await listed("held") == {"kim@near.example"}
    assert await listed("scheduled") == {"joe@far.example"}
    assert await listed("scheduled", "deferred", "held") == {"joe@far.example", "kim@near.example"}
    assert await listed("deferred", "delivered") == set()
    wrong = await client.get(OUTBOUND, params={"state": ["held", "stuck"]}, headers=a_admin)
    assert_problem(wrong, 422)


async def test_hold_release_retry_and_delete_act_on_waiting_rows_in_scope(
    serving: None, client: httpx.AsyncClient, world: World, stores: Stores
) -> None:
    queue_id = await send(client, "alice@a.example", "joe@far.example")
    a_admin, b_admin = world.admin_of(world.a), world.admin_of(world.b)
    selection = {"message_id": queue_id}

    # Another tenant's admin reaches nothing: 404, and the row is unchanged.
    assert_problem(await client.post(f"{OUTBOUND}/hold", json=selection, headers=b_admin), 404)
    held = await client.post(f"{OUTBOUND}/hold", json=selection, headers=a_admin)
    assert held.status_code == 200, held.text
    assert [row["state"] for row in held.json()["changed"]] == ["scheduled"]  # as it was
    [row] = stores.metadata.list_outbound(message_id=queue_id)
    assert row.state.value == "held"
    # Holding again matches no waiting scheduled row: a 404 that says why.
    again = await client.post(f"{OUTBOUND}/hold", json=selection, headers=a_admin)
    assert "in flight or done" in assert_problem(again, 404)["detail"]

    released = await client.post(f"{OUTBOUND}/release", json=selection, headers=a_admin)
    assert released.status_code == 200, released.text
    [row] = stores.metadata.list_outbound(message_id=queue_id)
    assert row.state.value == "scheduled"
    retried = await client.post(f"{OUTBOUND}/retry", json={"ids": [row.id]}, headers=a_admin)
    assert retried.status_code == 200, retried.text

    deleted = await client.post(f"{OUTBOUND}/delete", json=selection, headers=a_admin)
    assert deleted.status_code == 200, deleted.text
    assert stores.metadata.list_outbound(message_id=queue_id) == []


async def test_an_operator_bounce_is_an_attempt_and_a_bounce_event(
    serving: None, client: httpx.AsyncClient, world: World, stores: Stores
) -> None:
    queue_id = await send(client, "alice@a.example", "joe@far.example")
    bounced = await client.post(
        f"{OUTBOUND}/bounce", json={"message_id": queue_id}, headers=world.admin_of(world.a)
    )
    assert bounced.status_code == 200, bounced.text

    trace = await client.get(
        f"{OUTBOUND}/messages/{queue_id}/attempts", headers=world.admin_of(world.a)
    )
    assert trace.status_code == 200, trace.text
    [attempt] = trace.json()["items"]
    assert (attempt["recipient"], attempt["result"], attempt["bounce_class"]) == (
        "joe@far.example",
        "bounced",
        "operator",
    )
    assert attempt["reply"].startswith("550 5.0.0 ")
    events = stores.metadata.list_events(TenantScope(world.a.id), limit=50)
    assert any(e.kind.value == "Bounce" and e.message_id == queue_id for e in events)
    # Done rows are final: no operation reaches them.
    assert_problem(
        await client.post(
            f"{OUTBOUND}/retry", json={"message_id": queue_id}, headers=world.admin_of(world.a)
        ),
        404,
    )


@pytest.mark.in_process_only("leases from the platform's whole outbound queue")
async def test_attempts_show_each_try_and_another_tenant_gets_404(
    serving: None, client: httpx.AsyncClient, world: World, stores: Stores
) -> None:
    queue_id = await send(client, "alice@a.example", "joe@far.example")
    now = datetime.now(UTC)
    [item] = stores.metadata.lease_outbound("test/1", 10, 60, now)
    attempt = DeliveryAttempt(
        item.id, queue_id, item.recipient, now, AttemptResult.DEFERRED, "451 4.2.0 busy",
        host="mx.far.example", address="192.0.2.25",
    )  # fmt: skip
    stores.metadata.settle_outbound("test/1", now, deferred=[AttemptOutcome(attempt, now)])

    path = f"{OUTBOUND}/messages/{queue_id}/attempts"
    assert_problem(await client.get(path, headers=world.admin_of(world.b)), 404)
    answer = await client.get(path, headers=world.admin_of(world.a))
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["items"]
    assert (row["result"], row["reply"], row["host"], row["address"]) == (
        "deferred",
        "451 4.2.0 busy",
        "mx.far.example",
        "192.0.2.25",
    )


async def test_an_empty_selection_is_a_422_and_an_unknown_action_too(
    serving: None, client: httpx.AsyncClient
) -> None:
    assert_problem(await client.post(f"{OUTBOUND}/hold", json={}), 422)
    assert_problem(await client.post(f"{OUTBOUND}/explode", json={"ids": [1]}), 422)
    assert_problem(await client.post(f"{OUTBOUND}/hold", json={"ids": [1], "tenant_id": "x"}), 422)
    for bad in (0, -5, 2**63, 10**30):  # not a row id the store could hold: a 422, not a 500
        assert_problem(await client.post(f"{OUTBOUND}/hold", json={"ids": [bad]}), 422)


async def test_users_and_tokens_without_admin_are_refused(
    serving: None, client: httpx.AsyncClient, world: World, app: FastAPI
) -> None:
    reader = world.admin_of(world.a, Permission.READ)
    assert_problem(await client.get(OUTBOUND, headers=reader), 403)
    user = issue_token(app, Role.USER, world.a.id, world.alice.id, (Permission.READ,))
    assert_problem(await client.get(OUTBOUND, headers={"Authorization": f"Bearer {user}"}), 403)


@pytest.mark.in_process_only("counts every row of the platform's outbound queue")
async def test_stats_count_every_state_and_the_pending_destinations(
    serving: None, client: httpx.AsyncClient, world: World
) -> None:
    await send(client, "alice@a.example", "joe@far.example", "kim@far.example")
    stats = await client.get(f"{OUTBOUND}/stats")
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["counts"] == {
        "scheduled": 2, "deferred": 0, "leased": 0, "delivered": 0, "bounced": 0, "held": 0
    }  # fmt: skip
    assert body["pending_by_destination"] == {"far.example": 2}
    assert_problem(await client.get(f"{OUTBOUND}/stats", headers=world.admin_of(world.a)), 403)
