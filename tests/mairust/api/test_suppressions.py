"""The suppression list routes, and what a suppressed recipient does to ``/send``: entries
listed, added (an import is many at once), removed, in the caller's tenant only."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from mairust.model.directory import Tenant
from mairust.model.principal import Permission, Role
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import MailSeeder, assert_problem, issue_token

PATH = "/api/v1/suppressions"


class World:
    def __init__(self, app: FastAPI, seeder: MailSeeder) -> None:
        self.app = app
        self.a: Tenant = seeder.tenant("a.example")
        self.b: Tenant = seeder.tenant("b.example")
        seeder.mailbox("alice@a.example")

    def admin_of(self, tenant: Tenant) -> dict[str, str]:
        granted = (Permission.READ, Permission.WRITE, Permission.SEND, Permission.ADMIN)
        token = issue_token(self.app, Role.TENANT_ADMIN, tenant.id, permissions=granted)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(app: FastAPI, seeder: MailSeeder) -> World:
    return World(app, seeder)


async def test_add_list_and_remove_in_the_callers_tenant(
    client: httpx.AsyncClient, world: World
) -> None:
    a, b = world.admin_of(world.a), world.admin_of(world.b)
    added = await client.post(
        PATH, json={"addresses": ["Joe@Far.example", "kim@far.example", "joe@far.example"]},
        headers=a,
    )  # fmt: skip
    assert added.status_code == 200, added.text
    assert added.json() == {"added": 2, "already": 0}
    again = await client.post(PATH, json={"addresses": ["joe@far.example"]}, headers=a)
    assert again.json() == {"added": 0, "already": 1}

    listed = (await client.get(PATH, headers=a)).json()
    assert [(e["address"], e["reason"]) for e in listed["items"]] == [
        ("joe@far.example", "manual"),
        ("kim@far.example", "manual"),
    ]
    assert listed["next"] is None
    assert (await client.get(PATH, headers=b)).json()["items"] == []
    # Another tenant's list is out of reach: named, it is a 404; its entries, too.
    assert_problem(await client.get(PATH, params={"tenant_id": world.a.id}, headers=b), 404)
    assert_problem(await client.delete(f"{PATH}/joe@far.example", headers=b), 404)

    page = (await client.get(PATH, params={"limit": 1}, headers=a)).json()
    assert [e["address"] for e in page["items"]] == ["joe@far.example"]
    rest = (await client.get(PATH, params={"after": page["next"]}, headers=a)).json()
    assert [e["address"] for e in rest["items"]] == ["kim@far.example"]

    removed = await client.delete(f"{PATH}/JOE@far.example", headers=a)
    assert removed.status_code == 204, removed.text
    assert_problem(await client.delete(f"{PATH}/joe@far.example", headers=a), 404)


async def test_the_operator_names_the_tenant_and_bad_input_is_a_422(
    client: httpx.AsyncClient, world: World
) -> None:
    assert_problem(await client.post(PATH, json={"addresses": ["x@far.example"]}), 422)
    named = await client.post(PATH, json={"addresses": ["x@far.example"], "tenant_id": world.b.id})
    assert named.status_code == 200, named.text
    everyone = (await client.get(PATH, params={"limit": 1000})).json()["items"]
    assert any(e["tenant_id"] == world.b.id for e in everyone)
    not_address = await client.post(
        PATH, json={"addresses": ["not an address"], "tenant_id": world.b.id}
    )
    assert "not an address" in assert_problem(not_address, 422)["detail"]
    assert_problem(await client.post(PATH, json={"addresses": []}), 422)


async def test_send_refuses_a_suppressed_recipient_naming_the_reason(
    serving: None, client: httpx.AsyncClient, world: World, stores: Stores
) -> None:
    a = world.admin_of(world.a)
    await client.post(
        PATH, json={"addresses": ["gone@far.example"], "reason": "hard_bounce"}, headers=a
    )
    refused = await client.post(
        "/api/v1/send",
        json={"from": "alice@a.example", "to": ["gone@far.example", "ok@far.example"], "text": "x"},
        headers=a,
    )
    detail = assert_problem(refused, 422)["detail"]
    assert "gone@far.example (hard_bounce)" in detail and "ok@far.example" not in detail
    assert stores.metadata.list_outbound(tenant_id=world.a.id) == []
    # Tenant B never suppressed it: B's mail may go there.
    fine = await client.post(
        "/api/v1/send",
        json={"from": "alice@a.example", "to": ["ok@far.example"], "text": "x"},
        headers=a,
    )
    assert fine.status_code == 202, fine.text
