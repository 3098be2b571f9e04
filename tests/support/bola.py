"""The BOLA matrix's cases and world, shared by the in-process run and the live one.

A *world* is built through the REST API alone (so it can be built on a live `mairust up`):
tenant A (alice and amos, users) and tenant B (bob), each tenant's admin token, alice's and
amos's user tokens, and two messages delivered to alice by the caller's ``deliver`` (the
second then held in Quarantine). A *case*
names, for one route, A's object and how to reach it; :func:`check_case` then asks as tenant
B's admin (404 or a listing without it), as amos (404/absent, or 403 where a role is needed)
and as the owner (2xx and the object), in that order, so a refused write cannot hide a
broken positive twin.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.matrix_catalog import CATALOG_PLUGIN, ensure_published

USER_PERMISSIONS = ["read", "write", "send"]
ALL_PERMISSIONS = ["read", "write", "send", "admin"]


@dataclass
class World:
    """Tenant A (alice, amos) and tenant B (bob): tokens by who, A's object ids by what."""

    client: Callable[[str], httpx.AsyncClient]  # who -> a client sending that one's token
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    path: str  # with the object's id filled in
    body: dict[str, Any] | None
    # "object": the answer is A's object (404 for others); "list": the answer lists objects
    # and must (positive) or must not (negative) contain ``marker``.
    kind: str
    marker: str
    owner: str = "a_admin"  # whose token is the positive twin
    # What amos (a user of A) gets: "default" (404 / absent), "403" where the route needs a
    # role above a user's, "visible" for tenant-wide facts every user of the tenant reads.
    amos: str = "default"


Case = Callable[[World], Call]


def _entry(world: World) -> str:
    return world.ids["entry"]


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/messages"): lambda w: Call(
        "/api/v1/messages", None, "list", _entry(w), owner="alice"
    ),
    ("GET", "/api/v1/messages/{entry_id}"): lambda w: Call(
        f"/api/v1/messages/{_entry(w)}", None, "object", _entry(w), owner="alice"
    ),
    ("GET", "/api/v1/messages/{entry_id}/raw"): lambda w: Call(
        f"/api/v1/messages/{_entry(w)}/raw", None, "object", w.ids["subject"], owner="alice"
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
        f"/api/v1/search?q={w.ids['subject']}", None, "list", _entry(w), owner="alice"
    ),
    ("GET", "/api/v1/tenants"): lambda w: Call(
        "/api/v1/tenants", None, "list", w.ids["tenant_a"], owner="alice", amos="visible"
    ),
    ("GET", "/api/v1/domains"): lambda w: Call(
        "/api/v1/domains", None, "list", f'"{w.ids["domain_a"]}"', owner="alice", amos="visible"
    ),
    ("GET", "/api/v1/users"): lambda w: Call(
        "/api/v1/users", None, "list", w.ids["alice"], owner="alice"
    ),
    ("POST", "/api/v1/users"): lambda w: Call(
        "/api/v1/users",
        {"address": f"new@{w.ids['domain_a']}"},
        "object",
        f"new@{w.ids['domain_a']}",
        amos="403",
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
    ("GET", "/api/v1/users/{user_id}/quota"): lambda w: Call(
        f"/api/v1/users/{w.ids['alice']}/quota", None, "object", w.ids["alice"], owner="alice"
    ),
    ("PUT", "/api/v1/users/{user_id}/quota"): lambda w: Call(
        f"/api/v1/users/{w.ids['alice']}/quota",
        {"quota_bytes": 1_000_000},
        "object",
        w.ids["alice"],
        amos="403",
    ),
    ("POST", "/api/v1/send"): lambda w: Call(
        "/api/v1/send",
        {
            "from": w.ids["alice_address"],
            "to": [w.ids["alice_address"]],
            "subject": "note to self",
            "text": "hello",
        },
        "object",
        w.ids["alice_address"],
        owner="alice",
        amos="403",  # a user sends only as themselves
    ),
    ("GET", "/api/v1/messages/{entry_id}/attachments/{index}"): lambda w: Call(
        f"/api/v1/messages/{_entry(w)}/attachments/0",
        None,
        "object",
        f"attached {w.ids['subject']}",
        owner="alice",
    ),
    ("GET", "/api/v1/messages/{entry_id}/thread"): lambda w: Call(
        f"/api/v1/messages/{_entry(w)}/thread", None, "object", _entry(w), owner="alice"
    ),
    ("POST", "/api/v1/messages/{entry_id}/flags"): lambda w: Call(
        f"/api/v1/messages/{_entry(w)}/flags", {"seen": True}, "object", _entry(w), owner="alice"
    ),
    ("DELETE", "/api/v1/messages/{entry_id}"): lambda w: Call(
        f"/api/v1/messages/{_entry(w)}", None, "object", _entry(w), owner="alice"
    ),
    ("GET", "/api/v1/threads"): lambda w: Call(
        "/api/v1/threads", None, "list", _entry(w), owner="alice"
    ),
    ("GET", "/api/v1/mailboxes/{mailbox}/folders"): lambda w: Call(
        f"/api/v1/mailboxes/{w.ids['alice_address']}/folders",
        None,
        "object",
        '"Old"',
        owner="alice",
    ),
    ("POST", "/api/v1/mailboxes/{mailbox}/folders"): lambda w: Call(
        f"/api/v1/mailboxes/{w.ids['alice_address']}/folders",
        {"name": "Projects"},
        "object",
        "Projects",
        owner="alice",
    ),
    ("PATCH", "/api/v1/mailboxes/{mailbox}/folders/{folder:path}"): lambda w: Call(
        f"/api/v1/mailboxes/{w.ids['alice_address']}/folders/Old",
        {"name": "Renamed"},
        "object",
        "Renamed",
        owner="alice",
    ),
    ("DELETE", "/api/v1/mailboxes/{mailbox}/folders/{folder:path}"): lambda w: Call(
        f"/api/v1/mailboxes/{w.ids['alice_address']}/folders/Empty",
        None,
        "object",
        "",  # 204: no body; the listing below shows it gone
        owner="alice",
    ),
    ("GET", "/api/v1/domains/{domain}/aliases"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/aliases",
        None,
        "object",
        f"team@{w.ids['domain_a']}",
        amos="403",
    ),
    ("POST", "/api/v1/domains/{domain}/aliases"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/aliases",
        {"address": f"crew@{w.ids['domain_a']}", "targets": [w.ids["alice_address"]]},
        "object",
        f"crew@{w.ids['domain_a']}",
        amos="403",
    ),
    ("DELETE", "/api/v1/domains/{domain}/aliases/{address}"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/aliases/team@{w.ids['domain_a']}",
        None,
        "object",
        "",  # 204: no body
        amos="403",
    ),
    ("GET", "/api/v1/domains/{domain}/catch-all"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/catch-all",
        None,
        "object",
        w.ids["alice_address"],
        amos="403",
    ),
    ("PUT", "/api/v1/domains/{domain}/catch-all"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/catch-all",
        {"mailbox": w.ids["alice_address"]},
        "object",
        w.ids["alice_address"],
        amos="403",
    ),
    ("DELETE", "/api/v1/domains/{domain}/catch-all"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/catch-all", None, "object", "", amos="403"
    ),
    ("GET", "/api/v1/domains/{domain}/policy"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/policy", None, "object", "quarantine", amos="403"
    ),
    ("PUT", "/api/v1/domains/{domain}/policy"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/policy",
        {"spf": "enforce"},
        "object",
        w.ids["domain_a"],
        amos="403",
    ),
    ("GET", "/api/v1/domains/{domain}/routes"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/routes", None, "object", w.ids["rule_a"], amos="403"
    ),
    ("POST", "/api/v1/domains/{domain}/routes"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/routes",
        {"pattern": "ops-*", "action": "local", "target": w.ids["alice_address"]},
        "object",
        "ops-*",
        amos="403",
    ),
    ("DELETE", "/api/v1/domains/{domain}/routes/{rule_id}"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/routes/{w.ids['rule_a']}",
        None,
        "object",
        "",  # 204: no body
        amos="403",
    ),
    ("GET", "/api/v1/domains/{domain}/dns"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/dns",
        None,
        "object",
        "v=DMARC1",
        amos="visible",  # every user of the tenant may read what its domains publish
    ),
    ("GET", "/api/v1/domains/{domain}/dns-check"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/dns-check",
        None,
        "object",
        w.ids["domain_a"],
        amos="visible",
    ),
    ("GET", "/api/v1/domains/{domain}/dkim-keys"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/dkim-keys",
        None,
        "object",
        w.ids["dkim_a"],
        amos="403",
    ),
    ("POST", "/api/v1/domains/{domain}/dkim-keys"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/dkim-keys",
        {"algorithm": "rsa2048"},
        "object",
        "v=DKIM1; k=rsa; p=",
        amos="403",
    ),
    ("POST", "/api/v1/domains/{domain}/dkim-keys/rotate"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/dkim-keys/rotate",
        None,
        "object",
        "v=DKIM1; k=ed25519; p=",
        amos="403",
    ),
    ("GET", "/api/v1/domains/{domain}/dmarc-reports"): lambda w: Call(
        f"/api/v1/domains/{w.ids['domain_a']}/dmarc-reports",
        None,
        "object",
        '"items"',  # the world receives no report: the owner's empty page, B's 404
        amos="403",
    ),
    ("GET", "/api/v1/events"): lambda w: Call(
        "/api/v1/events", None, "list", w.ids["queue_id"], amos="403"
    ),
    ("GET", "/api/v1/events/trace"): lambda w: Call(
        f"/api/v1/events/trace?queue_id={w.ids['queue_id']}",
        None,
        "list",
        w.ids["queue_id"],
        amos="403",
    ),
    ("POST", "/api/v1/webhooks"): lambda w: Call(
        "/api/v1/webhooks",
        {"url": "http://127.0.0.1:9/hook-new", "tenant_id": w.ids["tenant_a"]},
        "object",
        "hook-new",
        amos="403",
    ),
    ("GET", "/api/v1/webhooks"): lambda w: Call(
        "/api/v1/webhooks", None, "list", w.ids["webhook_a"], amos="403"
    ),
    ("GET", "/api/v1/webhooks/{endpoint_id}"): lambda w: Call(
        f"/api/v1/webhooks/{w.ids['webhook_a']}", None, "object", w.ids["webhook_a"], amos="403"
    ),
    ("PATCH", "/api/v1/webhooks/{endpoint_id}"): lambda w: Call(
        f"/api/v1/webhooks/{w.ids['webhook_a']}",
        {"enabled": False},
        "object",
        w.ids["webhook_a"],
        amos="403",
    ),
    ("DELETE", "/api/v1/webhooks/{endpoint_id}"): lambda w: Call(
        f"/api/v1/webhooks/{w.ids['webhook_a']}", None, "object", "", amos="403"
    ),
    ("GET", "/api/v1/webhooks/{endpoint_id}/deliveries"): lambda w: Call(
        f"/api/v1/webhooks/{w.ids['webhook_a']}/deliveries",
        None,
        "object",
        '"items"',
        amos="403",
    ),
    # Who the token is: alice's answer names her mailbox; B's admin's and amos's do not.
    ("GET", "/api/v1/auth/me"): lambda w: Call(
        "/api/v1/auth/me", None, "list", w.ids["alice"], owner="alice"
    ),
    ("GET", "/api/v1/audit"): lambda w: Call(
        "/api/v1/audit", None, "list", w.ids["audit_a"], amos="403"
    ),
    ("GET", "/api/v1/quarantine"): lambda w: Call(
        "/api/v1/quarantine", None, "list", w.ids["held"], owner="alice"
    ),
    ("POST", "/api/v1/quarantine/{entry_id}/release"): lambda w: Call(
        f"/api/v1/quarantine/{w.ids['held']}/release", None, "object", w.ids["held"], owner="alice"
    ),
    ("GET", "/api/v1/outbound"): lambda w: Call(
        "/api/v1/outbound", None, "list", w.ids["outbound_id"], amos="403"
    ),
    ("GET", "/api/v1/outbound/messages/{message_id}/attempts"): lambda w: Call(
        f"/api/v1/outbound/messages/{w.ids['outbound_id']}/attempts",
        None,
        "object",
        w.ids["outbound_id"],
        amos="403",
    ),
    ("POST", "/api/v1/outbound/{action}"): lambda w: Call(
        "/api/v1/outbound/retry",
        {"message_id": w.ids["outbound_id"]},
        "object",
        w.ids["outbound_id"],
        amos="403",
    ),
    ("GET", "/api/v1/suppressions"): lambda w: Call(
        "/api/v1/suppressions", None, "list", w.ids["suppressed"], amos="403"
    ),
    ("POST", "/api/v1/suppressions"): lambda w: Call(
        "/api/v1/suppressions",
        {"addresses": [f"new-{w.ids['suppressed']}"], "tenant_id": w.ids["tenant_a"]},
        "object",
        '"added"',
        amos="403",
    ),
    ("DELETE", "/api/v1/suppressions/{address}"): lambda w: Call(
        f"/api/v1/suppressions/{w.ids['suppressed']}", None, "object", "", amos="403"
    ),
    ("DELETE", "/api/v1/quarantine/{entry_id}"): lambda w: Call(
        f"/api/v1/quarantine/{w.ids['held']}",
        None,
        "object",
        "",
        owner="alice",  # 204
    ),
}


Deliver = Callable[[str, bytes], Awaitable[str]]  # (address, raw message) -> entry id


def world_message(address: str, subject: str) -> bytes:
    """Alice's message: text and one attachment (so attachment routes have an object)."""
    return (
        f"From: Sender <sender@remote.example>\r\nTo: {address}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@remote.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
        '--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="notes.txt"'
        f"\r\n\r\nattached {subject}\r\n--b--\r\n"
    ).encode()


async def build_world(
    client: Callable[[str], httpx.AsyncClient], admin_token: str, deliver: Deliver
) -> World:
    """Tenants, users, tokens and a message for alice, made through the API as the operator.

    Names are unique per world, so several worlds can share one live server.
    """
    world = World(client, tokens={"operator": admin_token})
    suffix = uuid.uuid4().hex[:8]
    domain_a, domain_b = f"a-{suffix}.example", f"b-{suffix}.example"
    async with client(admin_token) as http:
        for domain in (domain_a, domain_b):
            created = await http.post("/api/v1/domains", json={"name": domain})
            assert created.status_code == 201, created.text
        users = {}
        for name, domain in (("alice", domain_a), ("amos", domain_a), ("bob", domain_b)):
            made = await http.post("/api/v1/users", json={"address": f"{name}@{domain}"})
            assert made.status_code == 201, made.text
            users[name] = made.json()
        tenant_a, tenant_b = users["alice"]["tenant_id"], users["bob"]["tenant_id"]
        for who, tenant in (("a_admin", tenant_a), ("b_admin", tenant_b)):
            world.tokens[who] = await _token(
                http, {"role": "tenant_admin", "tenant_id": tenant, "permissions": ALL_PERMISSIONS}
            )
        for who in ("alice", "amos"):
            body = {"role": "user", "mailbox_id": users[who]["id"], "permissions": USER_PERMISSIONS}
            world.tokens[who] = await _token(http, body)
        listed = (await http.get("/api/v1/tokens", params={"limit": 500})).json()["items"]
        alice_token = next(t["id"] for t in listed if t["mailbox_id"] == users["alice"]["id"])
        subject = f"walrus{suffix}"
        alice_address = users["alice"]["address"]
        # First a message held in Quarantine (as a hook's quarantine verdict holds one): held
        # before the next arrives, so a ``deliver`` that answers the newest entry a listing
        # shows (listings leave Quarantine out) answers each message's own.
        held = await deliver(alice_address, world_message(alice_address, f"held{suffix}"))
        moved = await http.post(f"/api/v1/messages/{held}/move", json={"folder": "Quarantine"})
        assert moved.status_code == 200, moved.text
        entry = await deliver(alice_address, world_message(alice_address, subject))
        domain_paths = f"/api/v1/domains/{domain_a}"
        alias = await http.post(
            f"{domain_paths}/aliases",
            json={"address": f"team@{domain_a}", "targets": [alice_address]},
        )
        assert alias.status_code == 201, alias.text
        catchall = await http.put(f"{domain_paths}/catch-all", json={"mailbox": alice_address})
        assert catchall.status_code == 200, catchall.text
        policy = await http.put(f"{domain_paths}/policy", json={"dmarc": "quarantine"})
        assert policy.status_code == 200, policy.text
        rule = await http.post(
            f"{domain_paths}/routes",
            json={"pattern": "sales-*", "action": "local", "target": alice_address},
        )
        assert rule.status_code == 201, rule.text
        dkim = await http.post(f"{domain_paths}/dkim-keys", json={"algorithm": "ed25519"})
        assert dkim.status_code == 201, dkim.text
        hook = await http.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook-a", "tenant_id": tenant_a},
        )
        assert hook.status_code == 201, hook.text
        webhook_a = hook.json()["id"]
        read = await http.get(f"/api/v1/messages/{entry}")
        assert read.status_code == 200, read.text
        queue_id = read.json()["message_id"]
        for folder in ("Old", "Empty"):
            made = await http.post(
                f"/api/v1/mailboxes/{alice_address}/folders", json={"name": folder}
            )
            assert made.status_code == 201, made.text
        # A message for a remote recipient: tenant A's row in the outbound queue.
        outbound = await http.post(
            "/api/v1/send",
            json={"from": alice_address, "to": [f"far@remote-{suffix}.example"], "text": "out"},
        )
        assert outbound.status_code == 202, outbound.text
        suppressed = f"gone-{suffix}@remote.example"
        listed = await http.post(
            "/api/v1/suppressions", json={"addresses": [suppressed], "tenant_id": tenant_a}
        )
        assert listed.status_code == 200, listed.text
        records = (await http.get("/api/v1/audit", params={"limit": 500})).json()["items"]
        audit_a = next(r["id"] for r in records if r["tenant_id"] == tenant_a)
    world.ids.update(
        tenant_a=tenant_a,
        domain_a=domain_a,
        alice=users["alice"]["id"],
        alice_address=alice_address,
        webhook_a=webhook_a,
        rule_a=rule.json()["id"],
        dkim_a=dkim.json()["id"],
        queue_id=queue_id,
        outbound_id=outbound.json()["queue_id"],
        suppressed=suppressed,
        alice_token=alice_token,
        audit_a=audit_a,
        entry=entry,
        subject=subject,
        held=held,
    )
    return world


async def _token(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    answer = await http.post("/api/v1/tokens", json={"name": "matrix", **body})
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


async def _as(world: World, who: str, method: str, call: Call) -> httpx.Response:
    async with world.client(world.tokens[who]) as http:
        return await http.request(method, call.path, json=call.body)


async def check_case(world: World, method: str, path: str) -> None:
    call = CASES[(method, path)](world)
    foreign = await _as(world, "b_admin", method, call)
    if call.kind == "object":
        assert foreign.status_code == 404, f"B got {foreign.status_code}: {foreign.text}"
    else:
        assert foreign.status_code == 200, foreign.text
        assert call.marker not in foreign.text, f"B sees A's object: {foreign.text}"
    sibling = await _as(world, "amos", method, call)
    if call.amos == "403":
        assert sibling.status_code == 403, sibling.text
    elif call.amos == "visible":
        assert sibling.status_code == 200 and call.marker in sibling.text, sibling.text
    elif call.kind == "object":
        assert sibling.status_code == 404, f"amos got {sibling.status_code}: {sibling.text}"
    else:
        assert sibling.status_code == 200, sibling.text
        assert call.marker not in sibling.text, f"amos sees alice's object: {sibling.text}"
    own = await _as(world, call.owner, method, call)
    assert 200 <= own.status_code < 300, own.text
    assert call.marker in own.text, own.text


# -- platform-only routes: the operator acts on real objects -----------------------------

MATRIX_PLUGIN = "matrix-plugin"
_MATRIX_MANIFEST = """
scopes = ["envelope"]
permissions = ["tag"]

[plugin]
name = "matrix-plugin"
version = "{version}"
description = "A plugin the BOLA matrix installs."
author = "tests"
license = "MIT"

[transport]
kind = "http"
entrypoint = "http://127.0.0.1:9/hook"

[[hooks]]
point = "rcpt_to"
priority = 10
"""


def matrix_plugin_dir(base: Path, version: str, secrets: tuple[str, ...] = ()) -> Path:
    """A directory holding the matrix plugin's plugin.toml at ``version`` (naming
    ``secrets``: such a plugin installs switched off until they are set)."""
    directory = base / f"{MATRIX_PLUGIN}-{version}{'-secrets' if secrets else ''}"
    directory.mkdir(parents=True, exist_ok=True)
    manifest = _MATRIX_MANIFEST.format(version=version)
    if secrets:
        manifest = f"secrets = {list(secrets)!r}\n".replace("'", '"') + manifest
    (directory / "plugin.toml").write_text(manifest)
    return directory


_FAKE_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
_PLATFORM_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/tenants"): {"name": "c"},
    ("POST", "/api/v1/domains"): {"name": "c.example"},
    ("PATCH", "/api/v1/admin/plugins/{name}"): {"enabled": False},
    ("POST", "/api/v1/admin/hooks"): {"plugin": MATRIX_PLUGIN, "point": "rcpt_to"},
    ("PATCH", "/api/v1/admin/hooks/{binding_id}"): {"priority": 5},
    ("POST", "/api/v1/admin/hooks/{point}/test"): {"rcpt_tos": ["a@example.test"]},
    ("PUT", "/api/v1/admin/plugins/{name}/secrets/{secret}"): {"value": "s3cret"},
}


async def platform_call(
    world: World, method: str, path: str, base: Path
) -> tuple[str, dict[str, Any] | None]:
    """The concrete path and body with which the operator's call must succeed: objects the
    route acts on are made first (a plugin installed from ``base``, its binding)."""
    body = _PLATFORM_BODIES.get((method, path))
    if (method, path) == ("PATCH", "/api/v1/tenants/{tenant}"):
        # A real tenant, kept at home (no regions config: no other home to name).
        return f"/api/v1/tenants/{world.ids['tenant_a']}", {"home_region": None}
    if not path.startswith("/api/v1/admin/"):
        return re.sub(r"\{[a-z_]+\}", _FAKE_ID, path), body
    if path.endswith("/train"):
        return await _training_call(world, path)
    if path.startswith("/api/v1/admin/plugin-catalog"):
        return await _catalog_call(world, path)
    # The secrets routes act on a secret the plugin names (DELETE: one that is set).
    secrets = ("api-key",) if "/secrets" in path else ()
    first = matrix_plugin_dir(base, "1.0.0", secrets)
    if (method, path) == ("POST", "/api/v1/admin/plugins"):
        return path, {"path": str(first)}
    async with world.client(world.tokens["operator"]) as http:
        installed = await http.post("/api/v1/admin/plugins", json={"path": str(first)})
        assert installed.status_code == 201, installed.text
        bindings = (await http.get("/api/v1/admin/hooks")).json()["items"]
        if method == "DELETE" and secrets:
            made = await http.put(
                f"/api/v1/admin/plugins/{MATRIX_PLUGIN}/secrets/api-key", json={"value": "x"}
            )
            assert made.status_code == 204, made.text
    [binding] = [b["id"] for b in bindings if b["plugin"] == MATRIX_PLUGIN]
    if path.endswith("/upgrade"):
        body = {"path": str(matrix_plugin_dir(base, "1.1.0"))}
    concrete = (
        path.replace("{name}", MATRIX_PLUGIN)
        .replace("{binding_id}", binding)
        .replace("{point}", "rcpt_to")
        .replace("{secret}", "api-key")
    )
    return concrete, body


LEARNING_PLUGIN = "spam-filter"
LEARNING_PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugins" / "spam_filter"


async def _training_call(world: World, path: str) -> tuple[str, dict[str, Any] | None]:
    """The train route acts on a learning plugin (the bundled spam filter, installed from
    the repository: a live server runs on this machine) and on a stored message: alice's."""
    async with world.client(world.tokens["operator"]) as http:
        installed = await http.post(
            "/api/v1/admin/plugins", json={"path": str(LEARNING_PLUGIN_DIR)}
        )
        assert installed.status_code in (201, 409), installed.text  # 409: a live run's second
    body = {"examples": [{"message_id": world.ids["entry"], "label": "spam"}]}
    return path.replace("{name}", LEARNING_PLUGIN), body


async def _catalog_call(world: World, path: str) -> tuple[str, dict[str, Any] | None]:
    """The catalog routes act on its catalog-plugin (installed first for an upgrade)."""
    ensure_published()
    if path.endswith("/upgrade"):
        async with world.client(world.tokens["operator"]) as http:
            made = await http.post(f"/api/v1/admin/plugin-catalog/{CATALOG_PLUGIN}/install")
            assert made.status_code == 201, made.text
    return path.replace("{name}", CATALOG_PLUGIN), None
