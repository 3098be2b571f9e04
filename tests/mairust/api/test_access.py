"""The access routes' own answers: `GET /auth/me` tells each kind of token who it is.

(Tokens, log-in and the audit log are also exercised by the BOLA matrix, the rate-limit
tests and the services' tests; this module holds what only the route says.)
"""

from __future__ import annotations

from mairust.model.principal import Permission, Role
from mairust.passwords import hash_password
from tests.mairust.api.conftest import issue_token


async def test_the_admin_token_is_the_platform_admin(client) -> None:
    answer = await client.get("/api/v1/auth/me")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "role": "admin",
        "permissions": ["admin", "read", "send", "write"],
        "tenant_id": None,
        "mailbox_id": None,
        "actor": "admin-token",
    }


async def test_a_read_only_tenant_admin_token_is_told_its_tenant(app, connect, seeder) -> None:
    tenant = seeder.tenant("a.example")
    token = issue_token(app, Role.TENANT_ADMIN, tenant.id, permissions=[Permission.READ])
    async with connect(token) as http:
        me = (await http.get("/api/v1/auth/me")).json()
    assert me["role"] == "tenant_admin"
    assert me["permissions"] == ["read"]
    assert me["tenant_id"] == tenant.id
    assert me["mailbox_id"] is None
    assert me["actor"].startswith("token:")


async def test_a_token_without_read_still_learns_who_it_is(app, connect, seeder) -> None:
    tenant = seeder.tenant("a.example")
    alice = seeder.mailbox("alice@a.example")
    token = issue_token(app, Role.USER, tenant.id, alice.id, permissions=[Permission.SEND])
    async with connect(token) as http:
        me = (await http.get("/api/v1/auth/me")).json()
    assert (me["role"], me["mailbox_id"], me["permissions"]) == ("user", alice.id, ["send"])


async def test_a_log_in_token_has_the_users_role(anonymous, connect, seeder, stores) -> None:
    seeder.tenant("a.example")
    stores.metadata.add_mailbox("carol@a.example", hash_password("pw"), Role.TENANT_ADMIN)
    logged_in = await anonymous.post(
        "/api/v1/auth/token", json={"address": "carol@a.example", "password": "pw"}
    )
    assert logged_in.status_code == 201, logged_in.text
    async with connect(logged_in.json()["token"]) as http:
        me = (await http.get("/api/v1/auth/me")).json()
    assert me["role"] == "tenant_admin"
    assert me["actor"] == f"token:{logged_in.json()['id']}"


async def test_a_wrong_token_is_a_401_problem(connect, expect_problem) -> None:
    async with connect("mrt_not-a-token") as http:
        expect_problem(await http.get("/api/v1/auth/me"), 401)
