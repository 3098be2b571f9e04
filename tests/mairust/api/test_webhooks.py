"""Webhook endpoint routes: the secret shown once, URL checks, and isolation between
tenants (each refused cell beside its positive twin)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from mairust.model.principal import Permission, Role
from mairust.model.scope import PLATFORM, TenantScope
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault

from .conftest import MailSeeder, ProblemCheck, act_as_tenant, issue_token

PUBLIC_URL = "https://93.184.216.34/hooks/a"
ADMIN = (Permission.READ, Permission.WRITE, Permission.ADMIN)


async def _create(client: httpx.AsyncClient, **body: object) -> dict[str, object]:
    response = await client.post("/api/v1/webhooks", json={"url": PUBLIC_URL, **body})
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def test_the_signing_secret_is_shown_once_and_kept_sealed(
    app: FastAPI, client: httpx.AsyncClient, seeder: MailSeeder
) -> None:
    tenant = seeder.tenant("a.example")
    act_as_tenant(app, client, tenant.id, ADMIN)
    created = await _create(client, event_types=["message.received", "message.delivered"])
    secret = created["secret"]
    assert isinstance(secret, str) and secret.startswith("whsec_")
    assert created["tenant_id"] == tenant.id and created["enabled"] is True
    listed = (await client.get("/api/v1/webhooks")).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    read = (await client.get(f"/api/v1/webhooks/{created['id']}")).json()
    assert "secret" not in read and secret not in str(listed)
    assert read["event_types"] == ["message.received", "message.delivered"]
    # The vault holds it for the endpoint's tenant (what the delivery loop signs with).
    endpoint = app.state.stores.metadata.get_webhook_endpoint(PLATFORM, str(created["id"]))
    vault = SecretVault(app.state.stores.metadata, load_keyring(app.state.settings))
    assert vault.reveal(TenantScope(tenant.id), endpoint.secret_id).decode() == secret


async def test_update_delete_and_deliveries_for_the_owner(
    app: FastAPI, client: httpx.AsyncClient, seeder: MailSeeder, expect_problem: ProblemCheck
) -> None:
    tenant = seeder.tenant("a.example")
    act_as_tenant(app, client, tenant.id, ADMIN)
    created = await _create(client)
    path = f"/api/v1/webhooks/{created['id']}"
    changed = await client.patch(path, json={"enabled": False, "event_types": ["message.bounced"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled"] is False
    assert changed.json()["event_types"] == ["message.bounced"]
    deliveries = await client.get(f"{path}/deliveries")
    assert deliveries.status_code == 200 and deliveries.json() == {"items": []}
    assert (await client.delete(path)).status_code == 204
    expect_problem(await client.get(path), 404)


async def test_urls_that_are_not_public_https_are_refused(
    app: FastAPI, client: httpx.AsyncClient, seeder: MailSeeder, expect_problem: ProblemCheck
) -> None:
    tenant = seeder.tenant("a.example")
    act_as_tenant(app, client, tenant.id, ADMIN)
    for url in (
        "http://93.184.216.34/hook",  # plain http is not allowed by default
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/hook",
        "https://localhost/hook",  # a name that resolves to loopback
        "https://user:pw@93.184.216.34/hook",
        "ftp://93.184.216.34/hook",
    ):
        response = await client.post("/api/v1/webhooks", json={"url": url})
        expect_problem(response, 422)
    response = await client.post(
        "/api/v1/webhooks", json={"url": PUBLIC_URL, "event_types": ["message.nope"]}
    )
    expect_problem(response, 422)
    assert (await client.get("/api/v1/webhooks")).json() == {"items": []}


async def test_another_tenant_gets_404_on_every_endpoint_route(
    app: FastAPI, client: httpx.AsyncClient, seeder: MailSeeder, expect_problem: ProblemCheck
) -> None:
    a, b = seeder.tenant("a.example"), seeder.tenant("b.example")
    act_as_tenant(app, client, a.id, ADMIN)
    created = await _create(client)
    path = f"/api/v1/webhooks/{created['id']}"
    owner = client.headers["Authorization"]
    stranger = f"Bearer {issue_token(app, Role.TENANT_ADMIN, b.id, permissions=ADMIN)}"
    cells = [
        ("get", path, None),
        ("patch", path, {"enabled": False}),
        ("get", f"{path}/deliveries", None),
        ("delete", path, None),
    ]
    for method, url, body in cells:
        client.headers["Authorization"] = stranger
        expect_problem(await client.request(method, url, json=body), 404)
        # The positive twin: the owner's token gets the object.
        client.headers["Authorization"] = owner
        response = await client.request(method, url, json=body)
        assert response.status_code in (200, 204), (method, url, response.text)
    # Lists: B's list is empty while A's endpoint existed; naming A's tenant is a 404.
    act_as_tenant(app, client, a.id, ADMIN)
    kept = await _create(client)
    client.headers["Authorization"] = stranger
    assert (await client.get("/api/v1/webhooks")).json() == {"items": []}
    response = await client.post("/api/v1/webhooks", json={"url": PUBLIC_URL, "tenant_id": a.id})
    expect_problem(response, 404)
    client.headers["Authorization"] = owner
    listed = (await client.get("/api/v1/webhooks")).json()["items"]
    assert [item["id"] for item in listed] == [kept["id"]]


async def test_users_and_tokens_without_admin_are_refused(
    app: FastAPI, client: httpx.AsyncClient, seeder: MailSeeder, expect_problem: ProblemCheck
) -> None:
    tenant = seeder.tenant("a.example")
    mailbox = seeder.mailbox("jane@a.example")
    user = issue_token(app, Role.USER, tenant.id, mailbox.id)
    client.headers["Authorization"] = f"Bearer {user}"
    expect_problem(await client.get("/api/v1/webhooks"), 403)
    act_as_tenant(app, client, tenant.id, (Permission.READ,))
    expect_problem(await client.post("/api/v1/webhooks", json={"url": PUBLIC_URL}), 403)


async def test_the_platform_admin_names_the_tenant(
    client: httpx.AsyncClient, seeder: MailSeeder, expect_problem: ProblemCheck
) -> None:
    tenant = seeder.tenant("a.example")
    expect_problem(await client.post("/api/v1/webhooks", json={"url": PUBLIC_URL}), 422)
    created = await _create(client, tenant_id=tenant.id)
    assert created["tenant_id"] == tenant.id
