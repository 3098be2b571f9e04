"""The quota routes: a tenant admin sets quotas of their own users only (another tenant's
user is a 404, next to its positive twin), and usage shows in the user listing."""

from __future__ import annotations

import pytest

from mairust.model.principal import Permission, Role
from mairust.model.scope import PLATFORM
from tests.mairust.api.conftest import act_as_tenant, issue_token

ADMIN_PERMISSIONS = (Permission.READ, Permission.WRITE, Permission.ADMIN)


async def test_a_tenant_admin_sets_the_quota_of_their_own_user(app, client, seeder, stores):
    tenant = seeder.tenant("a.example")
    alice = seeder.mailbox("alice@a.example")
    act_as_tenant(app, client, tenant.id, ADMIN_PERMISSIONS)

    response = await client.put(f"/api/v1/users/{alice.id}/quota", json={"quota_bytes": 5000})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "user_id": alice.id,
        "address": "alice@a.example",
        "quota_bytes": 5000,
        "limit_bytes": 5000,
        "used_bytes": 0,
        "full": False,
    }
    assert stores.metadata.get_mailbox(PLATFORM, alice.id).quota_bytes == 5000
    audit = [r for r in stores.metadata.list_audit(PLATFORM) if r.action == "user.quota"]
    assert [(r.action, r.target, r.details) for r in audit] == [
        ("user.quota", "alice@a.example", {"quota_bytes": 5000})
    ]
    read = await client.get(f"/api/v1/users/{alice.id}/quota")
    assert read.status_code == 200 and read.json()["limit_bytes"] == 5000


async def test_another_tenants_admin_gets_404_and_changes_nothing(
    app, client, seeder, stores, expect_problem
):
    seeder.tenant("a.example")
    alice = seeder.mailbox("alice@a.example")
    other = seeder.tenant("b.example")
    act_as_tenant(app, client, other.id, ADMIN_PERMISSIONS)

    put = await client.put(f"/api/v1/users/{alice.id}/quota", json={"quota_bytes": 1})
    problem = expect_problem(put, 404)
    expect_problem(await client.get(f"/api/v1/users/{alice.id}/quota"), 404)
    # The same answer as for an id that exists nowhere.
    missing = await client.put("/api/v1/users/no-such-user/quota", json={"quota_bytes": 1})
    assert expect_problem(missing, 404)["title"] == problem["title"]
    assert stores.metadata.get_mailbox(PLATFORM, alice.id).quota_bytes is None
    assert [r for r in stores.metadata.list_audit(PLATFORM) if r.action == "user.quota"] == []


async def test_a_user_reads_their_own_quota_but_cannot_set_it(app, client, seeder, expect_problem):
    tenant = seeder.tenant("a.example")
    alice = seeder.mailbox("alice@a.example")
    amos = seeder.mailbox("amos@a.example")
    token = issue_token(app, Role.USER, tenant.id, alice.id, ADMIN_PERMISSIONS[:2])
    client.headers["Authorization"] = f"Bearer {token}"

    own = await client.get(f"/api/v1/users/{alice.id}/quota")
    assert own.status_code == 200 and own.json()["user_id"] == alice.id
    expect_problem(await client.get(f"/api/v1/users/{amos.id}/quota"), 404)
    put = await client.put(f"/api/v1/users/{alice.id}/quota", json={"quota_bytes": 0})
    expect_problem(put, 403)


@pytest.mark.in_process_only("sets the default quota on the app's services object")
async def test_usage_shows_in_the_user_listing_and_the_default_applies(
    client, seeder, app, expect_problem
):
    seeder.tenant("a.example")
    alice = seeder.mailbox("alice@a.example")
    raw = seeder.message(to=alice.address)
    seeder.deliver(alice, raw)
    application = app.state.application
    application.quotas.default_quota_bytes = len(raw)  # as mailbox.default_quota_bytes would

    users = (await client.get("/api/v1/users")).json()["items"]
    assert [(u["address"], u["quota_bytes"], u["used_bytes"]) for u in users] == [
        ("alice@a.example", None, len(raw))
    ]
    quota = (await client.get(f"/api/v1/users/{alice.id}/quota")).json()
    assert (quota["limit_bytes"], quota["full"]) == (len(raw), True)
    # 0 is unlimited; null goes back to the default.
    unlimited = await client.put(f"/api/v1/users/{alice.id}/quota", json={"quota_bytes": 0})
    assert (unlimited.json()["limit_bytes"], unlimited.json()["full"]) == (0, False)
    default = await client.put(f"/api/v1/users/{alice.id}/quota", json={"quota_bytes": None})
    assert default.json()["quota_bytes"] is None and default.json()["full"] is True


async def test_invalid_quotas_are_422(client, seeder, expect_problem):
    seeder.tenant("a.example")
    alice = seeder.mailbox("alice@a.example")
    for body in ({"quota_bytes": -1}, {"quota_bytes": "lots"}, {}, {"quota_bytes": 1, "x": 1}):
        put = await client.put(f"/api/v1/users/{alice.id}/quota", json=body)
        expect_problem(put, 422)
