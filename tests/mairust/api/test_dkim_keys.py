"""A domain's DKIM keys over REST: keygen, rotate and list, each paired (a tenant's own
token gets a 2xx and the key, another tenant's gets 404); answers carry the public parts
and the record to publish, never a private key nor its secret id; bad bodies are
problem+json; the DNS helper then publishes the keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from mairust.model.principal import Permission, Role
from mairust.model.scope import PLATFORM
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import Connect, issue_token

ADMIN = (Permission.READ, Permission.WRITE, Permission.ADMIN)
KEYS = "/api/v1/domains/a.example/dkim-keys"


class Tenants:
    def __init__(self, app: FastAPI, stores: Stores) -> None:
        metadata = stores.metadata
        self.a = metadata.create_tenant("a").id
        self.b = metadata.create_tenant("b").id
        metadata.add_domain("a.example", self.a)
        metadata.add_domain("b.example", self.b)
        self.ann = metadata.add_mailbox("ann@a.example")
        self.token_a = issue_token(app, Role.TENANT_ADMIN, self.a, permissions=ADMIN)
        self.token_b = issue_token(app, Role.TENANT_ADMIN, self.b, permissions=ADMIN)
        self.reader_a = issue_token(app, Role.TENANT_ADMIN, self.a, permissions=ADMIN[:1])
        self.user_a = issue_token(app, Role.USER, self.a, self.ann.id, permissions=ADMIN)


@pytest.fixture
def tenants(app: FastAPI, stores: Stores) -> Tenants:
    return Tenants(app, stores)


@pytest.fixture
async def http(connect: Connect) -> AsyncIterator[httpx.AsyncClient]:
    async with connect() as client:
        yield client


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_keygen_list_rotate_pairs(http, tenants, stores, expect_problem) -> None:
    # Another tenant: 404 on each, and nothing made.
    expect_problem(await http.post(KEYS, json={}, headers=as_(tenants.token_b)), 404)
    expect_problem(await http.get(KEYS, headers=as_(tenants.token_b)), 404)
    expect_problem(await http.post(f"{KEYS}/rotate", headers=as_(tenants.token_b)), 404)
    assert stores.metadata.active_dkim_keys("a.example") == []
    # The owner: rsa by default, then ed25519 with a selector of its choosing.
    made = await http.post(KEYS, headers=as_(tenants.token_a))
    assert made.status_code == 201, made.text
    rsa = made.json()
    assert (rsa["domain"], rsa["algorithm"], rsa["state"]) == ("a.example", "rsa2048", "active")
    assert rsa["dns_name"] == f"{rsa['selector']}._domainkey.a.example"
    assert rsa["dns_record"] == f"v=DKIM1; k=rsa; p={rsa['public_key']}"
    ed_made = await http.post(
        KEYS, json={"algorithm": "ed25519", "selector": "ed1"}, headers=as_(tenants.token_a)
    )
    assert ed_made.status_code == 201, ed_made.text
    assert ed_made.json()["dns_record"].startswith("v=DKIM1; k=ed25519; p=")
    expect_problem(await http.post(KEYS, json={}, headers=as_(tenants.token_a)), 409)
    listed = await http.get(KEYS, headers=as_(tenants.reader_a))
    assert listed.status_code == 200, listed.text
    assert [k["selector"] for k in listed.json()["items"]] == [rsa["selector"], "ed1"]
    rotated = await http.post(
        f"{KEYS}/rotate", json={"algorithm": "ed25519"}, headers=as_(tenants.token_a)
    )
    assert rotated.status_code == 200, rotated.text
    (new,) = rotated.json()["items"]
    assert new["algorithm"] == "ed25519" and new["selector"] != "ed1"
    states = {
        k["selector"]: k["state"]
        for k in (await http.get(KEYS, headers=as_(tenants.token_a))).json()["items"]
    }
    assert states == {rsa["selector"]: "active", "ed1": "retired", new["selector"]: "active"}
    # Never a private key, nor where it is kept.
    for response in (made, ed_made, listed, rotated):
        assert "PRIVATE" not in response.text and "secret" not in response.text
        for key in stores.metadata.list_dkim_keys(PLATFORM, "a.example"):
            assert key.secret_id not in response.text
    # The DNS helper publishes every key, the retired one too (its grace runs).
    dns = (await http.get("/api/v1/domains/a.example/dns", headers=as_(tenants.token_a))).json()
    published = {r["name"] for r in dns["records"] if r["purpose"] == "dkim"}
    assert published == {
        f"{s}._domainkey.a.example" for s in (rsa["selector"], "ed1", new["selector"])
    }


async def test_guards_and_bad_input(http, tenants, expect_problem) -> None:
    expect_problem(await http.post(KEYS, json={}), 401)
    # A user of the tenant, and a tenant admin token without the admin permission.
    expect_problem(await http.post(KEYS, json={}, headers=as_(tenants.user_a)), 403)
    expect_problem(await http.get(KEYS, headers=as_(tenants.user_a)), 403)
    expect_problem(await http.post(KEYS, json={}, headers=as_(tenants.reader_a)), 403)
    expect_problem(await http.post(f"{KEYS}/rotate", headers=as_(tenants.reader_a)), 403)
    owner = as_(tenants.token_a)
    for body in (
        {"algorithm": "rsa1024"},
        {"selector": "Not A Label"},
        {"selector": ""},
        {"private_key": "-----BEGIN PRIVATE KEY-----"},
    ):
        expect_problem(await http.post(KEYS, json=body, headers=owner), 422)
    expect_problem(await http.post(f"{KEYS}/rotate", headers=owner), 409)  # none to rotate
    expect_problem(await http.get("/api/v1/domains/none.example/dkim-keys", headers=owner), 404)
