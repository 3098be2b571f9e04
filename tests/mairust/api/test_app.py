"""The assembled app: authentication, health, OpenAPI and the app-wide error shapes."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from mairust import __version__
from mairust.api import create_app
from mairust.config import Settings
from mairust.errors import StorageUnavailable
from mairust.model.queue import QueueItem
from mairust.pipeline.dispatcher import LEASE_LOOP, QueueDispatcher
from mairust.pipeline.runner import BatchReport
from mairust.storage.protocols import MetadataStore
from mairust.storage.stores import Stores
from mairust.supervision import Backoff, LoopGaveUp, Supervisor
from tests.mairust.api.conftest import TOKEN_KEYS


@pytest.mark.parametrize(
    "authorization", ["Bearer wrong", "Bearer tt", "Bearer T", "Basic dDp0", "Bearer"]
)
async def test_a_wrong_token_is_a_401(anonymous, expect_problem, authorization):
    response = await anonymous.get("/api/v1/domains", headers={"Authorization": authorization})
    expect_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_the_admin_token_opens_the_api(client):
    response = await client.get("/api/v1/domains")
    assert response.status_code == 200
    assert response.json() == {"items": []}


@pytest.mark.in_process_only("needs an app without an admin token")
async def test_no_token_is_valid_without_a_configured_admin_token(tmp_path, stores, expect_problem):
    app = create_app(Settings(data_dir=tmp_path), stores, TOKEN_KEYS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for token in ("", "t", "None"):
            response = await http.get(
                "/api/v1/domains", headers={"Authorization": f"Bearer {token}"}
            )
            expect_problem(response, 401)


async def test_healthz_needs_no_token(anonymous):
    response = await anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.in_process_only("breaks the app's metadata store in this process")
async def test_healthz_is_503_when_the_metadata_store_fails(
    anonymous, stores, monkeypatch, expect_problem
):
    def broken(name: str) -> None:
        raise StorageUnavailable("database is locked")

    monkeypatch.setattr(stores.metadata, "get_domain", broken)
    response = await anonymous.get("/healthz")
    expect_problem(response, 503)
    assert "Retry-After" in response.headers


@pytest.mark.in_process_only("breaks the app's metadata store in this process")
async def test_healthz_is_503_when_the_store_raises_something_unwrapped(
    anonymous, stores, monkeypatch, expect_problem
):
    def broken(name: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(stores.metadata, "get_domain", broken)
    expect_problem(await anonymous.get("/healthz"), 503)


class LeasesOnceThenBreaks:
    """The real store, whose lease_batch answers once and then raises a bug for good."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store
        self.lease_calls = 0

    def lease_batch(self, owner: str, limit: int, lease_seconds: float) -> list[QueueItem]:
        self.lease_calls += 1
        if self.lease_calls > 1:
            raise RuntimeError("lease bug")
        return self._store.lease_batch(owner, limit, lease_seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class UnusedPool:
    async def process(self, items: Sequence[QueueItem], owner: str) -> BatchReport:
        raise AssertionError("nothing was leased")


@pytest.mark.in_process_only("runs a broken lease loop in this process and changes queue settings")
async def test_healthz_names_a_lease_loop_that_stopped_for_good(
    anonymous, stores, settings, seeder, expect_problem
):
    settings.queue.stall_seconds = 0.5
    settings.queue.poll_interval = 0.01
    store = LeasesOnceThenBreaks(stores.metadata)
    dispatcher = QueueDispatcher(store, UnusedPool(), "d/1", settings.queue, 1, instance="d")
    supervisor = Supervisor(
        LEASE_LOOP, dispatcher.run, Backoff(first_seconds=0.01, give_up_after=3)
    )
    with pytest.raises(LoopGaveUp):
        await supervisor.run()
    assert store.lease_calls == 4  # one that worked (and beat), then three failures
    mailbox = seeder.mailbox(f"jane@{seeder.tenant('example.com').name}")
    seeder.deliver(mailbox, seeder.message())  # its queue row is due now, and nobody leases
    assert (await anonymous.get("/healthz")).status_code == 200  # not waiting long yet

    # Stalled once the row has waited stall_seconds: a loaded machine may take longer.
    for _ in range(100):
        await asyncio.sleep(0.1)
        response = await anonymous.get("/healthz")
        if response.status_code != 200:
            break

    problem = expect_problem(response, 503)
    assert problem["type"] == "urn:mairust:problem:loop-stalled"
    assert re.fullmatch(
        r"dispatcher lease loop stalled: oldest due row \d+ s old, last lease \d+ s ago",
        problem["detail"],
    ), problem["detail"]
    assert response.headers["Retry-After"]


@pytest.mark.in_process_only("changes queue.stall_seconds on the app's settings object")
async def test_healthz_is_ok_while_a_lease_loop_leases_though_rows_wait(
    anonymous, stores, settings, seeder
):
    settings.queue.stall_seconds = 0.2
    mailbox = seeder.mailbox(f"jane@{seeder.tenant('example.com').name}")
    seeder.deliver(mailbox, seeder.message())
    await asyncio.sleep(0.3)
    assert (await anonymous.get("/healthz")).status_code == 503  # waiting, no lease at all
    # A busy dispatcher: rows wait, but it leased within the window.
    stores.metadata.record_heartbeat(LEASE_LOOP, "d", datetime.now(UTC))
    response = await anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.in_process_only("breaks a store method in this process")
async def test_unexpected_error_in_a_route_is_a_500_problem_logged_server_side(
    client, stores, monkeypatch, expect_problem, caplog
):
    def broken(scope: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(stores.metadata, "list_domains", broken)
    with caplog.at_level(logging.ERROR):
        response = await client.get("/api/v1/domains")
    expect_problem(response, 500)
    assert "secret" not in response.text
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)


async def test_unknown_route_and_wrong_method_are_problems(client, expect_problem):
    expect_problem(await client.get("/api/v1/nothing-here"), 404)
    response = await client.delete("/api/v1/domains")
    expect_problem(response, 405)
    assert "GET" in response.headers["Allow"]


EVERY_ROUTE = {
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/v1/messages"),
    ("get", "/api/v1/messages/{entry_id}"),
    ("get", "/api/v1/messages/{entry_id}/raw"),
    ("post", "/api/v1/messages/{entry_id}/tags"),
    ("post", "/api/v1/messages/{entry_id}/move"),
    ("get", "/api/v1/search"),
    ("get", "/api/v1/domains"),
    ("post", "/api/v1/domains"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/queue"),
    ("get", "/api/v1/queue/stats"),
    ("get", "/api/v1/stats"),
    ("get", "/api/v1/outbound"),
    ("get", "/api/v1/outbound/stats"),
    ("get", "/api/v1/outbound/messages/{message_id}/attempts"),
    ("post", "/api/v1/outbound/{action}"),
    ("get", "/api/v1/suppressions"),
    ("post", "/api/v1/suppressions"),
    ("delete", "/api/v1/suppressions/{address}"),
    ("get", "/api/v1/tenants"),
    ("post", "/api/v1/tenants"),
    ("patch", "/api/v1/tenants/{tenant}"),
    ("post", "/api/v1/auth/token"),
    ("get", "/api/v1/auth/me"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{token_id}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/users/{user_id}/quota"),
    ("put", "/api/v1/users/{user_id}/quota"),
    ("post", "/api/v1/send"),
    ("get", "/api/v1/messages/{entry_id}/attachments/{index}"),
    ("get", "/api/v1/messages/{entry_id}/thread"),
    ("post", "/api/v1/messages/{entry_id}/flags"),
    ("delete", "/api/v1/messages/{entry_id}"),
    ("get", "/api/v1/threads"),
    ("get", "/api/v1/mailboxes/{mailbox}/folders"),
    ("post", "/api/v1/mailboxes/{mailbox}/folders"),
    ("patch", "/api/v1/mailboxes/{mailbox}/folders/{folder}"),
    ("delete", "/api/v1/mailboxes/{mailbox}/folders/{folder}"),
    ("get", "/api/v1/domains/{domain}/aliases"),
    ("post", "/api/v1/domains/{domain}/aliases"),
    ("delete", "/api/v1/domains/{domain}/aliases/{address}"),
    ("get", "/api/v1/domains/{domain}/catch-all"),
    ("put", "/api/v1/domains/{domain}/catch-all"),
    ("delete", "/api/v1/domains/{domain}/catch-all"),
    ("get", "/api/v1/domains/{domain}/policy"),
    ("put", "/api/v1/domains/{domain}/policy"),
    ("get", "/api/v1/domains/{domain}/routes"),
    ("post", "/api/v1/domains/{domain}/routes"),
    ("delete", "/api/v1/domains/{domain}/routes/{rule_id}"),
    ("get", "/api/v1/admin/plugins"),
    ("post", "/api/v1/admin/plugins"),
    ("get", "/api/v1/admin/plugins/{name}"),
    ("patch", "/api/v1/admin/plugins/{name}"),
    ("delete", "/api/v1/admin/plugins/{name}"),
    ("post", "/api/v1/admin/plugins/{name}/upgrade"),
    ("get", "/api/v1/admin/plugin-catalog"),
    ("post", "/api/v1/admin/plugin-catalog/{name}/install"),
    ("post", "/api/v1/admin/plugin-catalog/{name}/upgrade"),
    ("get", "/api/v1/admin/plugins/{name}/calls"),
    ("get", "/api/v1/admin/plugins/{name}/figures"),
    ("get", "/api/v1/admin/plugins/{name}/secrets"),
    ("put", "/api/v1/admin/plugins/{name}/secrets/{secret}"),
    ("delete", "/api/v1/admin/plugins/{name}/secrets/{secret}"),
    ("get", "/api/v1/admin/hooks"),
    ("post", "/api/v1/admin/hooks"),
    ("patch", "/api/v1/admin/hooks/{binding_id}"),
    ("delete", "/api/v1/admin/hooks/{binding_id}"),
    ("post", "/api/v1/admin/hooks/{point}/test"),
    ("get", "/api/v1/domains/{domain}/dns"),
    ("get", "/api/v1/domains/{domain}/dns-check"),
    ("get", "/api/v1/domains/{domain}/dkim-keys"),
    ("post", "/api/v1/domains/{domain}/dkim-keys"),
    ("post", "/api/v1/domains/{domain}/dkim-keys/rotate"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/events/trace"),
    ("post", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/{endpoint_id}"),
    ("patch", "/api/v1/webhooks/{endpoint_id}"),
    ("delete", "/api/v1/webhooks/{endpoint_id}"),
    ("get", "/api/v1/webhooks/{endpoint_id}/deliveries"),
    ("post", "/api/v1/callbacks/{job}"),
    ("get", "/api/v1/quarantine"),
    ("post", "/api/v1/quarantine/{entry_id}/release"),
    ("delete", "/api/v1/quarantine/{entry_id}"),
    ("post", "/api/v1/admin/plugins/{name}/train"),
    ("post", "/api/v1/unsubscribe/{token}"),
    ("get", "/api/v1/domains/{domain}/dmarc-reports"),
}


async def test_openapi_lists_every_route_tagged_and_documented(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "MaiRust API"
    assert schema["info"]["version"] == __version__
    assert "problem+json" in schema["info"]["description"]

    documented = {
        (method, path) for path, operations in schema["paths"].items() for method in operations
    }
    assert documented == EVERY_ROUTE

    tag_names = {tag["name"] for tag in schema["tags"]}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("tags") and set(operation["tags"]) <= tag_names, where
            assert operation.get("summary"), where
            assert operation.get("description"), where
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    assert set(answer["content"]) == {"application/problem+json"}, where


async def test_openapi_declares_bearer_auth_on_api_routes_only(client):
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" not in schema["paths"]["/healthz"]["get"]
    assert "security" in schema["paths"]["/api/v1/domains"]["post"]
    assert "401" in schema["paths"]["/api/v1/domains"]["post"]["responses"]


@pytest.mark.in_process_only("inspects the app object")
def test_create_app_keeps_what_it_is_given(settings: Settings, stores: Stores):
    app = create_app(settings, stores, TOKEN_KEYS)
    assert app.state.settings is settings
    assert app.state.stores is stores
