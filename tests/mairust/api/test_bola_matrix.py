"""The BOLA matrix: every tenant-scoped route against another tenant's and another user's ids.

The rows are generated from the app's route table, so a new endpoint cannot be missed: a
route without a case in ``CASES`` (or a platform-only guard) fails
``test_every_route_has_a_case``. Each case names one object that tenant A owns (alice's
message, A's token, ...) and how to reach it; then, for every route:

- tenant B's admin token (every permission) gets 404 for A's object, or a listing without it;
- amos, a user of tenant A, gets 404 for alice's object (or a listing without it), or 403
  where the route needs a role above a user;
- the positive twin: A's own token (alice's for her objects) gets 2xx and the object, so a
  broken endpoint cannot pass by refusing everyone.

Platform-only routes (the guard's least role is ``admin``): A's tenant admin gets 403, the
platform admin gets 2xx.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mairust.model.mailbox import MailboxEntry
from mairust.model.principal import Permission, Principal, Role
from tests.mairust.api.conftest import AUTH, MailSeeder, issue_token
from tests.mairust.api.test_route_permissions import CALLS, PUBLIC, ROUTES, _marks

USER_PERMISSIONS = (Permission.READ, Permission.WRITE, Permission.SEND)


@dataclass
class World:
    """Tenant A (alice, amos) and tenant B (bob), their tokens, and A's objects."""

    app: FastAPI
    tokens: dict[str, str]  # who -> bearer token
    ids: dict[str, str]  # what -> id of A's object
    alice_entry: MailboxEntry


@dataclass(frozen=True)
class Call:
    path: str  # with the object's id filled in
    body: dict[str, Any] | None
    # "object": the answer is A's object (404 for others); "list": the answer lists objects
    # and must (positive) or must not (negative) contain ``marker``.
    kind: str
    marker: str
    owner: str = "a_admin"  # whose token is the positive twin
    # What amos (a user of A) gets: "404"/"absent" by default; "403" where the route needs a
    # role above a user's.
    amos: str = "default"


Case = Callable[[World], Call]


def _entry(world: World) -> str:
    return world.alice_entry.id


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/messages"): lambda w: Call(
        "/api/v1/messages", None, "list", _entry(w), owner="alice"
    ),
    ("GET", "/api/v1/messages/{entry_id}"): lambda w: Call(
        f"/api/v1/messages/{_entry(w)}", None, "object", _entry(w), owner="alice"
    ),
    ("GET", "/api/v1/messages/{entry_id}/raw"): lambda w: Call(
        f"/api/v1/messages/{_entry(w)}/raw", None, "object", "walrus", owner="alice"
    ),
    ("POST", "/api/v1/messages/{entry_id}/tags"): lambda w: Call(
        f"/api/v1/messages/{_entry(w)}/tags", {"add": ["x"]}, "object", _entry(w), owner="alice"
    ),
    ("POST", "/api/v1/messages/{entry_id}/move"): lambda w: Call(
        f"/api/v1/messages/{_entry(w)}/move",
        {"folder": "Archive"},
        "object",
        _entry(w),
        owner="alice",
    ),
    ("GET", "/api/v1/search"): lambda w: Call(
        "/api/v1/search?q=walrus", None, "list", _entry(w), owner="alice"
    ),
    ("GET", "/api/v1/tenants"): lambda w: Call(
        "/api/v1/tenants", None, "list", w.ids["tenant_a"], owner="alice", amos="visible"
    ),
    ("GET", "/api/v1/domains"): lambda w: Call(
        "/api/v1/domains", None, "list", '"a.example"', owner="alice", amos="visible"
    ),
    ("GET", "/api/v1/users"): lambda w: Call(
        "/api/v1/users", None, "list", w.ids["alice"], owner="alice"
    ),
    ("POST", "/api/v1/users"): lambda w: Call(
        "/api/v1/users", {"address": "new@a.example"}, "object", "new@a.example", amos="403"
    ),
    ("GET", "/api/v1/tokens"): lambda w: Call(
        "/api/v1/tokens", None, "list", w.ids["alice_token"], owner="alice"
    ),
    ("POST", "/api/v1/tokens"): lambda w: Call(
        "/api/v1/tokens",
        {"name": "n", "permissions": ["read"], "role": "user", "mailbox_id": w.ids["alice"]},
        "object",
        w.ids["alice"],
        amos="403",
    ),
    ("DELETE", "/api/v1/tokens/{token_id}"): lambda w: Call(
        f"/api/v1/tokens/{w.ids['alice_token']}",
        None,
        "object",
        w.ids["alice_token"],
        owner="alice",
    ),
    ("GET", "/api/v1/audit"): lambda w: Call(
        "/api/v1/audit", None, "list", w.ids["audit_a"], amos="403"
    ),
}


def _guard_role(method: str, path: str) -> Role:
    route = next(r for r in ROUTES if r.path == path and method in (r.methods or ()))
    roles = [mark[1] for mark in _marks(route.dependant) if isinstance(mark, tuple)]
    return max(roles, key=[Role.USER, Role.TENANT_ADMIN, Role.ADMIN].index)


GUARDED = [call for call in CALLS if call not in PUBLIC]
PLATFORM_ONLY = [call for call in GUARDED if _guard_role(*call) is Role.ADMIN]
TENANT_SCOPED = [call for call in GUARDED if call not in PLATFORM_ONLY]


def test_every_route_has_a_case() -> None:
    missing = [f"{m} {p}" for m, p in TENANT_SCOPED if (m, p) not in CASES]
    assert not missing, f"routes without a BOLA case: {missing}"
    assert not set(CASES) - set(TENANT_SCOPED), "cases for routes that do not exist"
    assert len(TENANT_SCOPED) >= 14 and len(PLATFORM_ONLY) >= 4


@pytest.fixture
def world(app: FastAPI, seeder: MailSeeder) -> World:
    tenant_a = seeder.tenant("a.example")
    tenant_b = seeder.tenant("b.example")
    alice = seeder.mailbox("alice@a.example")
    amos = seeder.mailbox("amos@a.example")
    seeder.mailbox("bob@b.example")
    entry = seeder.deliver(alice, seeder.message(subject="walrus", to=alice.address))
    tokens = {
        "a_admin": issue_token(app, Role.TENANT_ADMIN, tenant_a.id, permissions=Permission),
        "b_admin": issue_token(app, Role.TENANT_ADMIN, tenant_b.id, permissions=Permission),
        "alice": issue_token(app, Role.USER, tenant_a.id, alice.id, USER_PERMISSIONS),
        "amos": issue_token(app, Role.USER, tenant_a.id, amos.id, USER_PERMISSIONS),
    }
    application = app.state.application
    alice_token = application.tokens.list_tokens(_platform(), limit=100)
    alice_token_id = next(t.id for t in alice_token if t.mailbox_id == alice.id)
    audit_a = application.audit.page(_platform(), limit=100)
    audit_a_id = next(r.id for r in audit_a if r.tenant_id == tenant_a.id)
    ids = {
        "tenant_a": tenant_a.id,
        "alice": alice.id,
        "alice_token": alice_token_id,
        "audit_a": audit_a_id,
    }
    return World(app, tokens, ids, entry)


def _platform() -> Principal:
    return Principal.platform("matrix", "test")


async def _call(world: World, who: str, call: Call, method: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=world.app)
    headers = {"Authorization": f"Bearer {world.tokens[who]}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.request(method, call.path, json=call.body, headers=headers)


def _shows(response: httpx.Response, marker: str) -> bool:
    return marker in response.text


@pytest.mark.parametrize(("method", "path"), TENANT_SCOPED)
async def test_another_tenant_gets_404_or_nothing_and_the_owner_gets_it(
    world: World, method: str, path: str
) -> None:
    call = CASES[(method, path)](world)
    # Negatives first: a write refused must not have changed anything for the twin.
    foreign = await _call(world, "b_admin", call, method)
    if call.kind == "object":
        assert foreign.status_code == 404, f"B got {foreign.status_code}: {foreign.text}"
    else:
        assert foreign.status_code == 200 and not _shows(foreign, call.marker), foreign.text
    sibling = await _call(world, "amos", call, method)
    if call.amos == "403":
        assert sibling.status_code == 403, sibling.text
    elif call.amos == "visible":  # tenant-wide facts every user of the tenant may read
        assert sibling.status_code == 200 and _shows(sibling, call.marker)
    elif call.kind == "object":
        assert sibling.status_code == 404, f"amos got {sibling.status_code}: {sibling.text}"
    else:
        assert sibling.status_code == 200 and not _shows(sibling, call.marker), sibling.text
    own = await _call(world, call.owner, call, method)
    assert 200 <= own.status_code < 300, own.text
    assert _shows(own, call.marker), own.text


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "01ARZ3NDEKTSV4RRFFQ69G5FAV", path)


@pytest.mark.parametrize(("method", "path"), PLATFORM_ONLY)
async def test_platform_routes_refuse_a_tenant_admin_and_serve_the_operator(
    world: World, method: str, path: str, client: httpx.AsyncClient
) -> None:
    call = Call(_concrete(path), {}, "object", "")
    refused = await _call(world, "a_admin", call, method)
    assert refused.status_code == 403, refused.text
    answered = await client.request(method, call.path, headers=AUTH, json=_platform_body(path))
    # The operator reaches it (platform routes take no tenant object ids today).
    assert 200 <= answered.status_code < 300, answered.text


def _platform_body(path: str) -> dict[str, Any] | None:
    return {"/api/v1/tenants": {"name": "c"}, "/api/v1/domains": {"name": "c.example"}}.get(path)
