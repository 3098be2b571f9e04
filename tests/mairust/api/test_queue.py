"""The queue view: rows, state filter and counts per state (operator only)."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.mairust.api.conftest import act_as_tenant


@pytest.fixture
def delivered(seeder):
    """Three messages to Jane: three queue rows, all QUEUED."""
    seeder.tenant("example.com")
    jane = seeder.mailbox("jane@example.com")
    return seeder.deliver_many(jane, 3)


async def test_rows_carry_the_queue_fields(client, delivered):
    response = await client.get("/api/v1/queue")
    assert response.status_code == 200
    rows = response.json()["items"]
    assert len(rows) == 3
    assert {row["message_id"] for row in rows} == {e.message_id for e in delivered}
    for row in rows:
        assert set(row) == {
            "id", "message_id", "recipient", "state", "attempts", "next_attempt_at", "last_error"
        }  # fmt: skip
        assert row["recipient"] == "jane@example.com"
        assert row["state"] == "queued"
        assert row["attempts"] == 0
        assert row["last_error"] is None
        datetime.fromisoformat(row["next_attempt_at"])


async def test_states_filter_and_counts_follow_the_store(client, stores, delivered):
    leased = stores.metadata.lease_batch("worker-1", 2, 60.0)
    assert len(leased) == 2
    stores.metadata.ack([leased[0].id], "worker-1")
    stores.metadata.fail(leased[1].id, "worker-1", "550 5.1.1 no such user")

    failed = (await client.get("/api/v1/queue", params={"state": "failed"})).json()["items"]
    assert [(r["id"], r["last_error"], r["attempts"]) for r in failed] == [
        (leased[1].id, "550 5.1.1 no such user", 1)
    ]
    done = (await client.get("/api/v1/queue", params={"state": "done"})).json()["items"]
    assert [r["id"] for r in done] == [leased[0].id]

    stats = (await client.get("/api/v1/queue/stats")).json()
    assert stats == {"counts": {"queued": 1, "leased": 0, "done": 1, "failed": 1}, "total": 3}


async def test_limit_caps_the_rows(client, delivered):
    rows = (await client.get("/api/v1/queue", params={"limit": 2})).json()["items"]
    assert len(rows) == 2


async def test_stats_of_an_empty_queue_list_every_state(client):
    stats = (await client.get("/api/v1/queue/stats")).json()
    assert stats == {"counts": {"queued": 0, "leased": 0, "done": 0, "failed": 0}, "total": 0}


@pytest.mark.parametrize("params", [{"state": "lost"}, {"limit": 0}, {"limit": 1001}])
async def test_bad_parameters_are_422(client, expect_problem, params):
    problem = expect_problem(await client.get("/api/v1/queue", params=params), 422)
    assert problem["errors"][0]["field"] == next(iter(params))


async def test_a_tenant_scope_may_not_see_the_queue(app, client, seeder, expect_problem):
    tenant = seeder.tenant("example.com")
    act_as_tenant(app, client, tenant.id)
    expect_problem(await client.get("/api/v1/queue"), 403)
    expect_problem(await client.get("/api/v1/queue/stats"), 403)
