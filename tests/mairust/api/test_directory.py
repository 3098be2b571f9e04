"""Domains and users: create, list, duplicates, non-local domains, passwords, scopes."""

from __future__ import annotations

import pytest

from mairust.model.scope import PLATFORM
from mairust.passwords import verify_password
from tests.mairust.api.conftest import act_as_tenant


async def test_a_domain_gets_a_tenant_named_after_it_by_default(client, stores):
    response = await client.post("/api/v1/domains", json={"name": "Example.COM."})
    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "example.com"
    assert created["tenant"] == "example.com"
    tenant = stores.metadata.get_tenant_by_name("example.com")
    assert tenant is not None and created["tenant_id"] == tenant.id
    assert stores.metadata.get_domain("example.com").tenant_id == tenant.id


async def test_domains_of_one_named_tenant_share_it(client, stores):
    first = await client.post("/api/v1/domains", json={"name": "a.example", "tenant": "acme"})
    second = await client.post("/api/v1/domains", json={"name": "b.example", "tenant": "acme"})
    assert first.status_code == second.status_code == 201
    assert first.json()["tenant_id"] == second.json()["tenant_id"]
    assert [t.name for t in stores.metadata.list_tenants()] == ["acme"]
    listing = (await client.get("/api/v1/domains")).json()["items"]
    assert [(d["name"], d["tenant"]) for d in listing] == [
        ("a.example", "acme"),
        ("b.example", "acme"),
    ]


async def test_a_duplicate_domain_is_409_and_creates_no_tenant(client, stores, expect_problem):
    await client.post("/api/v1/domains", json={"name": "example.com"})
    response = await client.post(
        "/api/v1/domains", json={"name": "EXAMPLE.com", "tenant": "newcomer"}
    )
    problem = expect_problem(response, 409)
    assert problem["type"] == "urn:mairust:problem:conflict"
    assert stores.metadata.get_tenant_by_name("newcomer") is None


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "has space.example"}, {"name": "a@b.example"}, {"name": 5},
     {"name": "a..b"}, {"name": "ok.example", "extra": 1}, {"name": "ok.example", "tenant": ""}],
)  # fmt: skip
async def test_invalid_domains_are_422(client, stores, expect_problem, body):
    expect_problem(await client.post("/api/v1/domains", json=body), 422)
    assert stores.metadata.list_tenants() == []


async def test_users_are_created_with_a_hashed_password_never_returned(client, stores):
    await client.post("/api/v1/domains", json={"name": "example.com"})
    response = await client.post(
        "/api/v1/users", json={"address": "Jane@Example.com", "password": "s3cret pass"}
    )
    assert response.status_code == 201
    user = response.json()
    assert user["address"] == "jane@example.com"
    assert user["has_password"] is True
    assert set(user) == {
        "id",
        "address",
        "tenant_id",
        "created_at",
        "has_password",
        "role",
        "quota_bytes",
        "used_bytes",
    }
    assert (user["quota_bytes"], user["used_bytes"]) == (None, 0)
    assert user["role"] == "user"
    assert "s3cret" not in response.text and "scrypt" not in response.text
    stored = stores.metadata.find_mailbox("jane@example.com")
    assert stored is not None and stored.password_hash is not None
    assert stored.password_hash != "s3cret pass"
    assert verify_password("s3cret pass", stored.password_hash)
    assert user["tenant_id"] == stores.metadata.get_domain("example.com").tenant_id

    listing = await client.get("/api/v1/users")
    assert [u["address"] for u in listing.json()["items"]] == ["jane@example.com"]
    assert "scrypt" not in listing.text


async def test_a_user_without_password_cannot_authenticate(client, stores):
    await client.post("/api/v1/domains", json={"name": "example.com"})
    response = await client.post("/api/v1/users", json={"address": "joe@example.com"})
    assert response.status_code == 201
    assert response.json()["has_password"] is False
    assert stores.metadata.find_mailbox("joe@example.com").password_hash is None


async def test_a_user_of_a_non_local_domain_is_404(client, stores, expect_problem):
    response = await client.post("/api/v1/users", json={"address": "x@elsewhere.example"})
    expect_problem(response, 404)
    assert stores.metadata.find_mailbox("x@elsewhere.example") is None


async def test_a_duplicate_user_is_409(client, expect_problem):
    await client.post("/api/v1/domains", json={"name": "example.com"})
    await client.post("/api/v1/users", json={"address": "jane@example.com"})
    response = await client.post("/api/v1/users", json={"address": "JANE@example.com"})
    expect_problem(response, 409)


@pytest.mark.parametrize(
    "body",
    [{}, {"address": "no-at-sign"}, {"address": "two words@example.com"},
     {"address": "jane@example.com", "password": ""}, {"address": "jane@example.com", "pw": "x"}],
)  # fmt: skip
async def test_invalid_users_are_422(client, stores, expect_problem, body):
    await client.post("/api/v1/domains", json={"name": "example.com"})
    expect_problem(await client.post("/api/v1/users", json=body), 422)
    assert stores.metadata.list_mailboxes(PLATFORM) == []


async def test_a_tenant_lists_only_its_directory_and_cannot_create(
    app, client, seeder, expect_problem
):
    mine = seeder.tenant("example.com")
    seeder.mailbox("jane@example.com")
    seeder.tenant("other.example")
    seeder.mailbox("olga@other.example")
    act_as_tenant(app, client, mine.id)

    domains = (await client.get("/api/v1/domains")).json()["items"]
    assert [d["name"] for d in domains] == ["example.com"]
    users = (await client.get("/api/v1/users")).json()["items"]
    assert [u["address"] for u in users] == ["jane@example.com"]

    expect_problem(await client.post("/api/v1/domains", json={"name": "new.example"}), 403)
    expect_problem(await client.post("/api/v1/users", json={"address": "x@example.com"}), 403)
