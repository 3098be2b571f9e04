"""The webhook delivery loop against a real loopback receiver (allow-listed 127.0.0.1) and a
real SQLite outbox: delivered once and signed, retried after a 500 with backoff, given up
and kept, refused destinations never connected to (directly or by redirect), and a restart
that resumes what the last run left."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.config import WebhookSettings
from mairust.errors import NotFound
from mairust.model.scope import PLATFORM
from mairust.model.webhooks import DeliveryState, WebhookDelivery
from mairust.net.address_guard import AddressPolicy, DestinationRefused, IPAddress
from mairust.net.http_client import SafeHttpClient
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.supervision import Backoff
from mairust.webhooks.delivery import (
    DeliveryPolicy,
    RoundResult,
    WebhookDeliveryLoop,
    safe_client,
)
from mairust.webhooks.events import event_body, publish_event
from mairust.webhooks.signing import generate_secret, verify
from tests.support.http_sink import Reply, http_sink
from tests.support.sqlite_template import upgrade_to_head_for_test

SECRET = generate_secret()
FAST = DeliveryPolicy(retry_base_seconds=0.05, retry_max_seconds=0.2, poll_interval=0.05)
AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class Secrets:
    """The secret store's part: a secret is read in its tenant only."""

    def __init__(self) -> None:
        self.owners: dict[str, str] = {}  # secret id -> tenant id

    def __call__(self, tenant_id: str | None, secret_id: str) -> str:
        if self.owners.get(secret_id) != tenant_id:
            raise NotFound(f"no secret {secret_id}")
        return SECRET


secret_for = Secrets()


async def resolve(host: str) -> Sequence[IPAddress]:
    addresses = {"inside.example": ["10.0.0.7"], "receiver.example": ["127.0.0.1"]}
    return [ipaddress.ip_address(a) for a in addresses[host]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    opened = SqlMetadataStore(url)
    yield opened
    opened.close()


@pytest.fixture
def tenant(store: SqlMetadataStore) -> str:
    tenant_id = store.create_tenant("acme").id
    secret_for.owners = {"sec-1": tenant_id}
    return tenant_id


@pytest.fixture
async def client() -> AsyncIterator[SafeHttpClient]:
    http = SafeHttpClient(AddressPolicy.allowing(["127.0.0.1/32"]), resolve)
    yield http
    await http.aclose()


def loop_for(
    store: SqlMetadataStore,
    client: SafeHttpClient,
    policy: DeliveryPolicy = FAST,
    identity: str = "node-a",
) -> WebhookDeliveryLoop:
    return WebhookDeliveryLoop(store, client, secret_for, identity, policy, rng=random.Random(7))


def only(store: SqlMetadataStore) -> WebhookDelivery:
    [delivery] = store.list_webhook_deliveries(PLATFORM)
    return delivery


async def test_an_event_is_delivered_once_and_its_signature_verifies(
    store: SqlMetadataStore, tenant: str, client: SafeHttpClient
) -> None:
    with http_sink(Reply(204, b"")) as sink:
        store.add_webhook_endpoint(tenant, sink.url(), "sec-1")
        [queued] = publish_event(store, tenant, "evt-1", "message.received", {"id": "m1"}, AT)
        loop = loop_for(store, client)
        assert await loop.deliver_due() == RoundResult(delivered=1)
        assert await loop.deliver_due() == RoundResult()
    [seen] = sink.requests
    assert seen.body == event_body("message.received", {"id": "m1"}, AT).encode()
    assert (
        seen.body
        == b'{"data":{"id":"m1"},"timestamp":"2026-11-29T12:00:00Z","type":"message.received"}'
    )
    assert seen.headers["content-type"] == "application/json"
    assert verify(SECRET, seen.headers, seen.body, now=time.time()) == queued.id
    delivery = only(store)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.DELIVERED,
        1,
        204,
    )


async def test_a_500_is_retried_after_a_backoff_with_the_same_id(
    store: SqlMetadataStore, tenant: str, client: SafeHttpClient
) -> None:
    policy = DeliveryPolicy(retry_base_seconds=0.5, retry_max_seconds=5)
    with http_sink(Reply(500, b"oops"), Reply(200)) as sink:
        store.add_webhook_endpoint(tenant, sink.url(), "sec-1")
        publish_event(store, tenant, "evt-1", "message.received", {}, AT)
        loop = loop_for(store, client, policy)
        before = datetime.now(UTC)
        assert await loop.deliver_due() == RoundResult(deferred=1)
        deferred = only(store)
        assert (deferred.state, deferred.last_status, deferred.last_error) == (
            DeliveryState.PENDING,
            500,
            "HTTP 500",
        )
        # Jittered between half and all of the base delay for a first failure.
        wait = deferred.next_attempt_at - before
        assert timedelta(seconds=0.25) <= wait <= timedelta(seconds=0.6)
        assert await loop.deliver_due() == RoundResult()  # not due yet
        await asyncio.sleep(wait.total_seconds())
        assert await loop.deliver_due() == RoundResult(delivered=1)
    first, second = sink.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == deferred.id
    assert first.body == second.body
    assert (only(store).state, only(store).attempts) == (DeliveryState.DELIVERED, 2)


async def test_it_gives_up_after_max_attempts_and_keeps_the_delivery(
    store: SqlMetadataStore, tenant: str, client: SafeHttpClient
) -> None:
    policy = DeliveryPolicy(max_attempts=3, retry_base_seconds=0.01, retry_max_seconds=0.01)
    with http_sink(default=Reply(503)) as sink:
        store.add_webhook_endpoint(tenant, sink.url(), "sec-1")
        publish_event(store, tenant, "evt-1", "message.received", {}, AT)
        loop = loop_for(store, client, policy)
        results = []
        for _ in range(3):
            await asyncio.sleep(0.02)
            results.append(await loop.deliver_due())
    assert results == [RoundResult(deferred=1), RoundResult(deferred=1), RoundResult(failed=1)]
    assert len(sink.requests) == 3
    failed = only(store)
    assert failed.state is DeliveryState.FAILED
    assert failed.last_error == "gave up after 3 attempts: HTTP 503"


async def test_a_private_address_is_refused_without_connecting(
    store: SqlMetadataStore, tenant: str
) -> None:
    strict = SafeHttpClient(AddressPolicy(), resolve)  # the default: nothing non-public
    try:
        with http_sink() as sink:
            store.add_webhook_endpoint(tenant, sink.url(host="receiver.example"), "sec-1")
            publish_event(store, tenant, "evt-1", "message.received", {}, AT)
            assert await loop_for(store, strict).deliver_due() == RoundResult(failed=1)
        assert sink.requests == []
    finally:
        await strict.aclose()
    refused = only(store)
    assert refused.state is DeliveryState.FAILED and refused.attempts == 1
    assert refused.last_error == "destination receiver.example refused: 127.0.0.1 is loopback"


async def test_a_redirect_to_a_private_address_is_refused(
    store: SqlMetadataStore, tenant: str, client: SafeHttpClient
) -> None:
    with http_sink(Reply(307, location="http://inside.example/admin")) as sink:
        store.add_webhook_endpoint(tenant, sink.url(), "sec-1")
        publish_event(store, tenant, "evt-1", "message.received", {}, AT)
        assert await loop_for(store, client).deliver_due() == RoundResult(failed=1)
    assert len(sink.requests) == 1
    assert only(store).last_error == "destination inside.example refused: 10.0.0.7 is private"


async def test_a_missing_secret_is_retried_not_sent_unsigned(
    store: SqlMetadataStore, tenant: str, client: SafeHttpClient
) -> None:
    with http_sink() as sink:
        store.add_webhook_endpoint(tenant, sink.url(), "sec-unknown")
        publish_event(store, tenant, "evt-1", "message.received", {}, AT)
        assert await loop_for(store, client).deliver_due() == RoundResult(deferred=1)
    assert sink.requests == []
    assert only(store).last_error == "signing secret unavailable: no secret sec-unknown"


async def test_one_deliverys_error_does_not_hold_up_the_others(
    store: SqlMetadataStore, tenant: str, client: SafeHttpClient
) -> None:
    def lookup(tenant_id: str | None, secret_id: str) -> str:
        if secret_id == "bad-base64":
            return "whsec_not base64!"
        if secret_id == "bug":
            raise ValueError("a bug in the secret store")
        return secret_for(tenant_id, secret_id)

    with http_sink() as sink:
        good = store.add_webhook_endpoint(tenant, sink.url("/good"), "sec-1")
        store.add_webhook_endpoint(tenant, sink.url("/bad"), "bad-base64")
        store.add_webhook_endpoint(tenant, sink.url("/bug"), "bug")
        publish_event(store, tenant, "evt-1", "message.received", {}, AT)
        loop = WebhookDeliveryLoop(store, client, lookup, "node-a", FAST)
        assert await loop.deliver_due() == RoundResult(delivered=1, deferred=2)
    assert [r.path for r in sink.requests] == ["/good"]
    errors = {
        d.url.rsplit("/", 1)[1]: d.last_error for d in store.list_webhook_deliveries(PLATFORM)
    }
    assert errors == {
        "good": None,
        "bad": "signing secret unavailable: a webhook secret is whsec_ followed by base64",
        "bug": "internal error: ValueError('a bug in the secret store')",
    }
    assert good.id in {d.endpoint_id for d in store.list_webhook_deliveries(PLATFORM)}


async def test_another_tenants_secret_is_never_used(
    store: SqlMetadataStore, tenant: str, client: SafeHttpClient
) -> None:
    intruder = store.create_tenant("intruder").id
    with http_sink() as sink:
        store.add_webhook_endpoint(intruder, sink.url(), "sec-1")  # acme's secret id
        publish_event(store, intruder, "evt-1", "message.received", {}, AT)
        assert await loop_for(store, client).deliver_due() == RoundResult(deferred=1)
    assert sink.requests == []
    assert only(store).last_error == "signing secret unavailable: no secret sec-1"


async def test_a_restart_resumes_pending_and_leased_deliveries(
    store: SqlMetadataStore, tenant: str, client: SafeHttpClient, tmp_path: Path
) -> None:
    with http_sink() as sink:
        store.add_webhook_endpoint(tenant, sink.url(), "sec-1")
        for n in range(3):
            publish_event(store, tenant, f"evt-{n}", "message.received", {"n": n}, AT)
        # The run before the restart leased one delivery and died holding it (long lease).
        [held] = store.lease_webhook_deliveries("node-a/earlier-run", 1, 3600)
        store.close()  # the process is gone; only the database remains
        reopened = SqlMetadataStore(f"sqlite:///{tmp_path / 'metadata.db'}")
        try:
            loop = loop_for(reopened, client)
            task = asyncio.create_task(loop.run())
            requests = await asyncio.to_thread(sink.wait_for, 3)
            loop.stop()
            await asyncio.wait_for(task, 5)
            states = {d.id: d.state for d in reopened.list_webhook_deliveries(PLATFORM)}
        finally:
            reopened.close()
    assert len(requests) == 3
    assert {r.headers["webhook-id"] for r in requests} == set(states)
    assert held.id in states
    assert set(states.values()) == {DeliveryState.DELIVERED}


class FailsOnce:
    """An outbox whose first settle raises a bug-like error (not a store outage), after the
    delivery was sent and while its lease is held."""

    def __init__(self, store: SqlMetadataStore) -> None:
        self.store = store
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def mark_webhook_delivered(self, delivery_id: str, owner: str, status: int) -> bool:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("boom")
        return self.store.mark_webhook_delivered(delivery_id, owner, status)


async def test_the_loop_is_supervised_and_its_restart_takes_back_its_leases(
    store: SqlMetadataStore, tenant: str, client: SafeHttpClient
) -> None:
    with http_sink() as sink:
        store.add_webhook_endpoint(tenant, sink.url(), "sec-1")
        publish_event(store, tenant, "evt-1", "message.received", {}, AT)
        outbox = FailsOnce(store)
        # Leases far longer than the test: only the restart's hand-back can free the row.
        policy = DeliveryPolicy(lease_seconds=3600, poll_interval=0.05)
        loop = WebhookDeliveryLoop(outbox, client, secret_for, "node-a", policy)  # type: ignore[arg-type]
        supervisor = loop.supervisor(Backoff(first_seconds=0.01))
        task = asyncio.create_task(supervisor.run())
        requests = await asyncio.to_thread(sink.wait_for, 2)
        loop.stop()
        supervisor.stop()
        await asyncio.wait_for(task, 5)
    assert supervisor.restarts == 1
    assert supervisor.last_error == "RuntimeError: boom"
    # Sent again after the restart (at least once), under the same webhook-id.
    assert [r.headers["webhook-id"] for r in requests] == [only(store).id] * 2
    assert only(store).state is DeliveryState.DELIVERED


def test_retry_delays_grow_with_jitter_and_a_cap() -> None:
    policy = DeliveryPolicy(retry_base_seconds=10, retry_max_seconds=100)
    rng = random.Random(1)
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (40, 100)]:
        delays = [policy.retry_delay(attempts, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10  # jittered, not one value


async def test_the_configured_client_allows_only_the_configured_networks() -> None:
    allowed = safe_client(WebhookSettings(allow_networks=["127.0.0.1/32"], total_timeout=5))
    default = safe_client(WebhookSettings())
    try:
        with http_sink() as sink:
            assert (await allowed.post(sink.url(), b"{}")).status == 200
            with pytest.raises(DestinationRefused, match="loopback"):
                await default.post(sink.url(), b"{}")
        assert len(sink.requests) == 1
        assert allowed.limits.total_timeout == 5
    finally:
        await allowed.aclose()
        await default.aclose()
