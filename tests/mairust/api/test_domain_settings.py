"""A domain's aliases, catch-all and DNS records over REST: every operation is paired, a
tenant's own token gets a 2xx and the object, another tenant's token gets 404 (BOLA)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from mairust.model.principal import Permission, Role
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import LOOPBACK_DNS_PORT, SECOND_SETTINGS, Connect, issue_token
from tests.support.dns_server import ZoneServer

ADMIN = (Permission.READ, Permission.WRITE, Permission.ADMIN)


# The app asks the zone below for DNS and names mx.platform.test as the MX host.
pytestmark = SECOND_SETTINGS


@pytest.fixture
def zone() -> Iterator[ZoneServer]:
    with ZoneServer({}, ttl=1, port=LOOPBACK_DNS_PORT) as server:
        yield server


class Tenants:
    def __init__(self, app: FastAPI, stores: Stores) -> None:
        metadata = stores.metadata
        self.a = metadata.create_tenant("a").id
        self.b = metadata.create_tenant("b").id
        metadata.add_domain("a.example", self.a)
        metadata.add_domain("b.example", self.b)
        self.ann = metadata.add_mailbox("ann@a.example")
        metadata.add_mailbox("amy@a.example")
        metadata.add_mailbox("bob@b.example")
        self.token_a = issue_token(app, Role.TENANT_ADMIN, self.a, permissions=ADMIN)
        self.token_b = issue_token(app, Role.TENANT_ADMIN, self.b, permissions=ADMIN)
        self.user_a = issue_token(app, Role.USER, self.a, self.ann.id, permissions=ADMIN[:2])


@pytest.fixture
def tenants(app: FastAPI, stores: Stores) -> Tenants:
    return Tenants(app, stores)


@pytest.fixture
async def http(connect: Connect) -> AsyncIterator[httpx.AsyncClient]:
    async with connect() as client:
        yield client


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ALIASES = "/api/v1/domains/a.example/aliases"
CATCH_ALL = "/api/v1/domains/a.example/catch-all"


async def test_aliases_bola_pairs(http, tenants, stores, expect_problem):
    body = {"address": "team@a.example", "targets": ["ann@a.example", "amy@a.example"]}
    # Create: B's token is 404 and changes nothing; A's own token creates it.
    expect_problem(await http.post(ALIASES, json=body, headers=as_(tenants.token_b)), 404)
    assert stores.metadata.alias_targets("team@a.example") == []
    created = await http.post(ALIASES, json=body, headers=as_(tenants.token_a))
    assert created.status_code == 201, created.text
    assert created.json()["targets"] == ["amy@a.example", "ann@a.example"]
    # List.
    expect_problem(await http.get(ALIASES, headers=as_(tenants.token_b)), 404)
    listed = await http.get(ALIASES, headers=as_(tenants.token_a))
    assert listed.status_code == 200
    assert [a["address"] for a in listed.json()["items"]] == ["team@a.example"]
    # Delete.
    gone = f"{ALIASES}/team@a.example"
    expect_problem(await http.delete(gone, headers=as_(tenants.token_b)), 404)
    assert len(stores.metadata.alias_targets("team@a.example")) == 2
    deleted = await http.delete(gone, headers=as_(tenants.token_a))
    assert deleted.status_code == 204
    assert stores.metadata.alias_targets("team@a.example") == []
    expect_problem(await http.delete(gone, headers=as_(tenants.token_a)), 404)


async def test_alias_refusals(http, tenants, expect_problem):
    headers = as_(tenants.token_a)
    foreign_target = {"address": "team@a.example", "targets": ["bob@b.example"]}
    expect_problem(await http.post(ALIASES, json=foreign_target, headers=headers), 404)
    taken = {"address": "ann@a.example", "targets": ["amy@a.example"]}
    expect_problem(await http.post(ALIASES, json=taken, headers=headers), 409)
    for bad in ({"address": "team@a.example", "targets": []}, {"address": "x@a.example"}):
        expect_problem(await http.post(ALIASES, json=bad, headers=headers), 422)
    # A user of the tenant may not manage routing.
    ok = {"address": "team@a.example", "targets": ["ann@a.example"]}
    expect_problem(await http.post(ALIASES, json=ok, headers=as_(tenants.user_a)), 403)


async def test_catchall_bola_pairs(http, tenants, stores, expect_problem):
    body = {"mailbox": "amy@a.example"}
    expect_problem(await http.put(CATCH_ALL, json=body, headers=as_(tenants.token_b)), 404)
    assert stores.metadata.catchall_mailbox("a.example") is None
    set_ = await http.put(CATCH_ALL, json=body, headers=as_(tenants.token_a))
    assert set_.status_code == 200, set_.text
    assert set_.json()["mailbox"] == "amy@a.example"
    expect_problem(await http.get(CATCH_ALL, headers=as_(tenants.token_b)), 404)
    read = await http.get(CATCH_ALL, headers=as_(tenants.token_a))
    assert read.status_code == 200 and read.json()["domain"] == "a.example"
    expect_problem(await http.delete(CATCH_ALL, headers=as_(tenants.token_b)), 404)
    assert stores.metadata.catchall_mailbox("a.example") is not None
    cleared = await http.delete(CATCH_ALL, headers=as_(tenants.token_a))
    assert cleared.status_code == 204
    assert stores.metadata.catchall_mailbox("a.example") is None
    expect_problem(await http.get(CATCH_ALL, headers=as_(tenants.token_a)), 404)


async def test_dns_records_bola_pair(http, tenants, stores, expect_problem):
    expect_problem(
        await http.get("/api/v1/domains/a.example/dns", headers=as_(tenants.token_b)), 404
    )
    assert stores.metadata.active_dkim_keys("a.example") == []
    response = await http.get("/api/v1/domains/a.example/dns", headers=as_(tenants.user_a))
    assert response.status_code == 200, response.text
    dns = response.json()
    assert [r["purpose"] for r in dns["records"]] == ["mx", "spf", "dkim", "dmarc"]
    assert dns["records"][0]["zone"] == "a.example. 3600 IN MX 10 mx.platform.test."
    assert dns["zone"].count("\n") == 4
    (key,) = stores.metadata.active_dkim_keys("a.example")
    assert dns["dkim_selector"] == key.selector
    # Never the private key, in any form.
    assert "PRIVATE" not in response.text and key.secret_id not in response.text


async def test_dns_check_bola_pair(http, tenants, zone, expect_problem):
    path = "/api/v1/domains/a.example/dns-check"
    expect_problem(await http.get(path, headers=as_(tenants.token_b)), 404)
    zone.records["a.example"] = {"MX": [(10, "mx.platform.test")]}
    response = await http.get(path, headers=as_(tenants.token_a))
    assert response.status_code == 200, response.text
    statuses = {c["record"]["purpose"]: c["status"] for c in response.json()["items"]}
    assert statuses == {"mx": "ok", "spf": "missing", "dkim": "missing", "dmarc": "missing"}
