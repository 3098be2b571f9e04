"""Prometheus metrics: exposed without auth, labelled by route template, one registry per app."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mairust.api import create_app
from mairust.api.metrics import ApiMetrics
from mairust.errors import StorageUnavailable
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import RemoteRecipient
from tests.mairust.api.conftest import TOKEN_KEYS


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called ``name`` keyed by their sorted labels."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def requests_of(text: str, method: str, route: str, status: str) -> float:
    key = (("method", method), ("route", route), ("status", status))
    return samples(text, "mairust_api_requests_total").get(key, 0.0)


async def test_metrics_need_no_token_and_use_the_prometheus_format(anonymous):
    response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE mairust_api_requests_total counter" in response.text
    assert "# TYPE mairust_api_request_duration_seconds histogram" in response.text


async def test_requests_are_counted_by_route_template_and_status(client, anonymous, seeder):
    seeder.tenant("example.com")
    jane = seeder.mailbox("jane@example.com")
    entry = seeder.deliver(jane, seeder.message())
    # Counted since the app started: a live server has served other tests before this one.
    before = (await anonymous.get("/metrics")).text
    await client.get(f"/api/v1/messages/{entry.id}")
    await client.get(f"/api/v1/messages/{entry.id}")
    await client.get("/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    await anonymous.get("/api/v1/domains")
    # An unknown API path (any other path is the web UI's: tests/mairust/api/test_web_ui.py).
    await client.get("/api/v1/no/such/route")

    text = (await anonymous.get("/metrics")).text
    template = "/api/v1/messages/{entry_id}"

    def counted(method: str, route: str, status: str) -> float:
        return requests_of(text, method, route, status) - requests_of(before, method, route, status)

    assert counted("GET", template, "200") == 2
    assert counted("GET", template, "404") == 1
    assert counted("GET", "/api/v1/domains", "401") == 1
    assert counted("GET", "<unmatched>", "404") == 1
    assert entry.id not in text, "ids must never become label values"
    key = (("method", "GET"), ("route", template))
    latency = samples(text, "mairust_api_request_duration_seconds_count")
    earlier = samples(before, "mairust_api_request_duration_seconds_count")
    assert latency[key] - earlier.get(key, 0.0) == 3


@pytest.mark.in_process_only("breaks a store method in this process")
async def test_a_crashing_request_is_counted_as_500(client, anonymous, stores, monkeypatch):
    def broken(scope: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(stores.metadata, "list_mailboxes", broken)
    assert (await client.get("/api/v1/users")).status_code == 500
    text = (await anonymous.get("/metrics")).text
    assert requests_of(text, "GET", "/api/v1/users", "500") == 1


async def test_each_app_has_its_own_registry(settings, stores, anonymous):
    await anonymous.get("/healthz")
    other = create_app(settings, stores, TOKEN_KEYS)
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        text = (await http.get("/metrics")).text
    assert requests_of(text, "GET", "/healthz", "200") == 0


def test_observe_records_count_and_latency():
    metrics = ApiMetrics()
    metrics.observe("POST", "/x", 201, 0.02)
    text = metrics.render().decode()
    assert requests_of(text, "POST", "/x", "201") == 1
    count = samples(text, "mairust_api_request_duration_seconds_count")
    assert count[(("method", "POST"), ("route", "/x"))] == 1
    total = samples(text, "mairust_api_request_duration_seconds_sum")
    assert abs(total[(("method", "POST"), ("route", "/x"))] - 0.02) < 1e-9


async def test_queue_rows_and_search_backlog_are_reported(anonymous, seeder, stores):
    seeder.tenant("example.com")
    jane = seeder.mailbox("jane@example.com")
    entry = seeder.deliver(jane, seeder.message())
    stores.metadata.add_to_search_backlog([entry.id])
    text = (await anonymous.get("/metrics")).text
    assert samples(text, "mairust_metadata_up") == {(): 1.0}
    rows = samples(text, "mairust_queue_rows")
    assert sum(rows.values()) == len(stores.metadata.list_queue())
    assert set(rows) == {(("state", s),) for s in ("queued", "leased", "done", "failed")}
    assert samples(text, "mairust_search_backlog_entries") == {(): 1.0}


async def test_outbound_recipients_are_reported_by_state_and_busiest_destination(anonymous, stores):
    body = b"Subject: out\r\n\r\nhi\r\n"
    ref = MessageRef(new_id(), len(body), "0" * 64, new_id())
    recipients = ("a@far.example", "b@far.example", "c@near.example")
    envelope = Envelope("ann@ours.example", recipients, datetime.now(UTC))
    remote = tuple(RemoteRecipient(address) for address in recipients)
    stores.metadata.commit_messages([SpoolRecord(ref, envelope, remote=remote)])

    text = (await anonymous.get("/metrics")).text
    by_state = samples(text, "mairust_outbound_recipients")
    assert set(by_state) == {
        (("state", s),) for s in ("scheduled", "deferred", "leased", "delivered", "bounced", "held")
    }
    assert by_state[(("state", "scheduled"),)] >= 3
    waiting = samples(text, "mairust_outbound_waiting")
    assert waiting[(("destination", "far.example"),)] >= 2


@pytest.mark.in_process_only("breaks a store method in this process")
async def test_a_metadata_outage_shows_as_down_not_as_an_error(anonymous, stores, monkeypatch):
    def down() -> None:
        raise StorageUnavailable("database is away")

    monkeypatch.setattr(stores.metadata, "queue_counts", down)
    response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert samples(response.text, "mairust_metadata_up") == {(): 0.0}
    assert samples(response.text, "mairust_queue_rows") == {}


@pytest.mark.in_process_only("leases rows itself; a live server's workers would take them")
async def test_oldest_due_row_and_oldest_lease_ages_are_reported(anonymous, seeder, stores):
    text = (await anonymous.get("/metrics")).text
    assert samples(text, "mairust_queue_oldest_lease_age_seconds") == {(): 0.0}
    seeder.tenant("example.com")
    jane = seeder.mailbox("jane@example.com")
    seeder.deliver_many(jane, 2)
    stores.metadata.lease_batch("worker-1", 1, 60.0)
    text = (await anonymous.get("/metrics")).text
    # Just leased (60 s, the default queue.lease_seconds): its age is about 0.
    (lease_age,) = samples(text, "mairust_queue_oldest_lease_age_seconds").values()
    assert 0.0 <= lease_age < 30.0
    (due_age,) = samples(text, "mairust_queue_oldest_due_age_seconds").values()
    assert due_age >= 0.0
