"""A domain's own policy and routing rules over REST: the owner's tenant admin reads and
sets them, another tenant gets 404, a user 403, bad bodies 422 problems, relay rules only
from the operator."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from mairust.model.policy import DomainPolicy
from mairust.model.principal import Permission, Role
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import AUTH, issue_token

ADMIN = (Permission.READ, Permission.WRITE, Permission.ADMIN)
POLICY = "/api/v1/domains/a.example/policy"
ROUTES = "/api/v1/domains/a.example/routes"


class Tenants:
    def __init__(self, app: FastAPI, stores: Stores) -> None:
        metadata = stores.metadata
        self.a = metadata.create_tenant("a").id
        self.b = metadata.create_tenant("b").id
        metadata.add_domain("a.example", self.a)
        metadata.add_domain("b.example", self.b)
        self.ann = metadata.add_mailbox("ann@a.example")
        metadata.add_mailbox("bob@b.example")
        self.a_admin = as_(issue_token(app, Role.TENANT_ADMIN, self.a, permissions=ADMIN))
        self.b_admin = as_(issue_token(app, Role.TENANT_ADMIN, self.b, permissions=ADMIN))
        self.ann_user = as_(issue_token(app, Role.USER, self.a, self.ann.id, permissions=ADMIN))


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tenants(app: FastAPI, stores: Stores) -> Tenants:
    return Tenants(app, stores)


async def test_the_owner_sets_the_policy_others_cannot(client, tenants, stores, expect_problem):
    body = {"spf": "enforce", "max_message_bytes": 4096, "messages_per_minute": 10}
    expect_problem(await client.put(POLICY, json=body, headers=tenants.b_admin), 404)
    expect_problem(await client.put(POLICY, json=body, headers=tenants.ann_user), 403)
    domain = stores.metadata.get_domain("a.example")
    assert domain is not None and domain.policy == DomainPolicy()
    answer = await client.put(POLICY, json=body, headers=tenants.a_admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["own"] == {**body, "dmarc": None}
    # Defaults fill what the domain left unset: [auth] dmarc, smtp.max_message_size.
    assert answer.json()["effective"]["dmarc"] == "enforce"
    assert answer.json()["effective"]["max_message_bytes"] == 4096
    read = await client.get(POLICY, headers=tenants.a_admin)
    assert read.json() == answer.json()
    expect_problem(await client.get(POLICY, headers=tenants.b_admin), 404)
    domain = stores.metadata.get_domain("a.example")
    assert domain is not None and domain.policy == DomainPolicy(
        spf="enforce", max_message_bytes=4096, messages_per_minute=10
    )


@pytest.mark.parametrize(
    "body",
    [
        {"spf": "sometimes"},
        {"max_message_bytes": 0},
        {"messages_per_minute": -1},
        {"max_message_bytes": 1 << 40},  # above the platform's own limit
        {"tenant_id": "x"},  # no mass assignment
    ],
)
async def test_a_bad_policy_is_a_422_problem(client, tenants, body, expect_problem):
    expect_problem(await client.put(POLICY, json=body, headers=tenants.a_admin), 422)


async def test_rules_are_made_listed_and_deleted_by_the_owner(client, tenants, expect_problem):
    rule = {"pattern": "Sales-*", "action": "local", "target": "ann@a.example"}
    expect_problem(await client.post(ROUTES, json=rule, headers=tenants.b_admin), 404)
    expect_problem(await client.post(ROUTES, json=rule, headers=tenants.ann_user), 403)
    made = await client.post(ROUTES, json=rule, headers=tenants.a_admin)
    assert made.status_code == 201, made.text
    assert made.json()["pattern"] == "sales-*" and made.json()["position"] == 0
    expect_problem(await client.post(ROUTES, json=rule, headers=tenants.a_admin), 409)
    listed = await client.get(ROUTES, headers=tenants.a_admin)
    assert [r["id"] for r in listed.json()["items"]] == [made.json()["id"]]
    expect_problem(await client.get(ROUTES, headers=tenants.b_admin), 404)
    one = f"{ROUTES}/{made.json()['id']}"
    expect_problem(await client.delete(one, headers=tenants.b_admin), 404)
    expect_problem(
        await client.delete(
            "/api/v1/domains/b.example/routes/" + made.json()["id"], headers=tenants.b_admin
        ),
        404,
    )
    assert (await client.delete(one, headers=tenants.a_admin)).status_code == 204
    expect_problem(await client.delete(one, headers=tenants.a_admin), 404)
    assert (await client.get(ROUTES, headers=tenants.a_admin)).json()["items"] == []


async def test_rule_refusals(client, tenants, expect_problem):
    for body, status in (
        ({"pattern": "x", "action": "local", "target": "bob@b.example"}, 404),
        ({"pattern": "x", "action": "forward", "target": "bob@b.example"}, 404),
        ({"pattern": "x y", "action": "local", "target": "ann@a.example"}, 422),
        ({"pattern": "x", "action": "teleport", "target": "ann@a.example"}, 422),
        ({"pattern": "x", "action": "relay", "target": "10.0.0.1:25"}, 403),
        ({"pattern": "x", "action": "local", "target": "ann@a.example", "id": "mine"}, 422),
    ):
        expect_problem(await client.post(ROUTES, json=body, headers=tenants.a_admin), status)
    # The operator may relay; a bad host is still a 422.
    bad = {"pattern": "x", "action": "relay", "target": "http://evil"}
    expect_problem(await client.post(ROUTES, json=bad, headers=AUTH), 422)
    relay = {"pattern": "*", "action": "relay", "target": "[10.0.0.1]:25"}
    made = await client.post(ROUTES, json=relay, headers=AUTH)
    assert made.status_code == 201, made.text
    listed = (await client.get(ROUTES, headers=tenants.a_admin)).json()["items"]
    assert [(r["action"], r["target"]) for r in listed] == [("relay", "[10.0.0.1]:25")]
