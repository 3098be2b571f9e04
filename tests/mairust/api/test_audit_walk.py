"""Every mutating admin and tenant-admin route leaves an audit entry: who, what, when.

The rows come from the app's route table (as the BOLA matrix's do), so a new admin route
without an audit record fails here. Each route is called as the BOLA matrix's owner
calls it (tests/support/bola.py); the audit log must then hold a new record of that
caller's role, naming an action and a target, stamped between before and after the call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mairust.model.principal import Role
from tests.mairust.api.conftest import SECOND_SETTINGS
from tests.mairust.api.test_bola_matrix import GUARDED, PLATFORM_ONLY, _guard_role, world
from tests.support.bola import (
    CASES,
    MATRIX_PLUGIN,
    World,
    _training_call,
    matrix_plugin_dir,
    platform_call,
)
from tests.support.matrix_catalog import CATALOG_PLUGIN, ensure_published, publish_newer

__all__ = ["world"]  # the BOLA matrix's world fixture, used here too

# Mutating by method, yet changing nothing: a dry run of the hook chain.
READ_ONLY_POSTS = {("POST", "/api/v1/admin/hooks/{point}/test")}
ADMIN_MUTATIONS = [
    (method, path)
    for method, path in GUARDED
    if method in ("POST", "PUT", "PATCH", "DELETE")
    and _guard_role(method, path) in (Role.TENANT_ADMIN, Role.ADMIN)
    and (method, path) not in READ_ONLY_POSTS
]
# The world's webhook endpoints are on loopback (as in the BOLA matrix).
pytestmark = SECOND_SETTINGS
# Routes a user may call on their own objects that an admin calls on the tenant's: the
# walk calls them as the tenant admin (revoking a user's token).
ADMIN_ALSO = [("DELETE", "/api/v1/tokens/{token_id}")]
_ROLE_OF = {"operator": Role.ADMIN.value, "a_admin": Role.TENANT_ADMIN.value}


def test_the_walk_covers_the_admin_routes() -> None:
    assert len(ADMIN_MUTATIONS) >= 25, ADMIN_MUTATIONS
    assert ("POST", "/api/v1/tenants") in ADMIN_MUTATIONS


async def _audit(world: World) -> list[dict[str, Any]]:
    async with world.client(world.tokens["operator"]) as http:
        answer = await http.get("/api/v1/audit", params={"limit": 500})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _plugin_script(world: World, base: Path) -> list[tuple[str, str, str, Any]]:
    """The platform's plugin and hook routes in an order where each has its object:
    ``(route path, method, concrete path, body)``; the binding id is filled in later."""
    plugin = f"/api/v1/admin/plugins/{MATRIX_PLUGIN}"
    secret = f"{plugin}/secrets/api-key"
    catalog = f"/api/v1/admin/plugin-catalog/{CATALOG_PLUGIN}"
    ensure_published()
    return [
        ("/api/v1/admin/plugin-catalog/{name}/install", "POST", f"{catalog}/install", None),
        # A newer version is published before this step (an upgrade to nothing is no change).
        ("/api/v1/admin/plugin-catalog/{name}/upgrade", "POST", f"{catalog}/upgrade", None),
        (
            "/api/v1/admin/plugins",
            "POST",
            "/api/v1/admin/plugins",
            {"path": str(matrix_plugin_dir(base, "1.0.0", ("api-key",)))},
        ),
        ("/api/v1/admin/plugins/{name}", "PATCH", plugin, {"enabled": False}),
        ("/api/v1/admin/plugins/{name}/secrets/{secret}", "PUT", secret, {"value": "s3cret"}),
        ("/api/v1/admin/plugins/{name}/secrets/{secret}", "DELETE", secret, None),
        (
            "/api/v1/admin/hooks",
            "POST",
            "/api/v1/admin/hooks",
            {"plugin": MATRIX_PLUGIN, "point": "rcpt_to"},
        ),
        ("/api/v1/admin/hooks/{binding_id}", "PATCH", "{binding}", {"priority": 5}),
        ("/api/v1/admin/hooks/{binding_id}", "DELETE", "{binding}", None),
        (
            "/api/v1/admin/plugins/{name}/upgrade",
            "POST",
            f"{plugin}/upgrade",
            {"path": str(matrix_plugin_dir(base, "1.1.0"))},
        ),
        ("/api/v1/admin/plugins/{name}/train", "POST", "{train}", None),
        ("/api/v1/admin/plugins/{name}", "DELETE", plugin, None),
    ]


async def test_every_admin_route_leaves_an_audit_entry(world: World, tmp_path: Path) -> None:
    # One world for the whole walk (a world per route would cost a minute): tenant routes
    # that make things first, then those that delete them, then the platform's.
    tenant = [c for c in ADMIN_MUTATIONS if c not in PLATFORM_ONLY]
    steps: list[tuple[str, str, str, str, Any]] = []  # who, method, route, concrete, body
    for method, path in sorted(tenant, key=lambda c: c[0] == "DELETE"):
        call = CASES[(method, path)](world)
        steps.append((call.owner, method, path, call.path, call.body))
    token = world.ids["alice_token"]
    steps.append(("a_admin", *ADMIN_ALSO[0], f"/api/v1/tokens/{token}", None))
    for method, path in PLATFORM_ONLY:
        if (method, path) in ADMIN_MUTATIONS and not path.startswith("/api/v1/admin/"):
            concrete, body = await platform_call(world, method, path, tmp_path)
            steps.append(("operator", method, path, concrete, body))
    for path, method, concrete, body in _plugin_script(world, tmp_path):
        steps.append(("operator", method, path, concrete, body))
    assert sorted({(m, p) for _, m, p, _, _ in steps}) == sorted(ADMIN_MUTATIONS + ADMIN_ALSO)

    binding = ""
    for who, method, path, concrete, body in steps:
        assert who in _ROLE_OF, f"{method} {path} is not called by an admin ({who})"
        if concrete == "{binding}":
            concrete = f"/api/v1/admin/hooks/{binding}"
        elif concrete == "{train}":
            concrete, body = await _training_call(world, path)
        elif path == "/api/v1/admin/plugin-catalog/{name}/upgrade":
            publish_newer()
        known = {record["id"] for record in await _audit(world)}
        started = datetime.now(UTC)
        async with world.client(world.tokens[who]) as http:
            answered = await http.request(method, concrete, json=body)
        finished = datetime.now(UTC)
        assert 200 <= answered.status_code < 300, f"{method} {concrete}: {answered.text}"
        if (method, path) == ("POST", "/api/v1/admin/hooks"):
            binding = answered.json()["id"]
        new = [record for record in await _audit(world) if record["id"] not in known]
        assert new, f"{method} {path} left no audit entry"
        for record in new:
            assert record["role"] == _ROLE_OF[who], (path, record)
            assert record["actor"] and record["action"] and record["target"], (path, record)
            assert started <= datetime.fromisoformat(record["at"]) <= finished, (path, record)
