"""Quarantine over REST: held mail listed per mailbox (a user's token) and per tenant (its
admin), paged; released to its folder with a `QuarantineReleased` event in the tenant's
log; deleted for good; 409 for a message that is not held; another tenant and another
user of the same tenant get 404 (or a listing without it), with the owner's positive twin."""

from __future__ import annotations

import pytest

from mairust.model.folders import QUARANTINE
from tests.support.mailbox_parties import Parties, mailbox_parties


@pytest.fixture
def parties(app, seeder) -> Parties:
    return mailbox_parties(app, seeder)


async def test_held_mail_is_listed_per_mailbox_and_per_tenant(client, seeder, parties):
    held = seeder.deliver(parties.jane, seeder.message(subject="held one"), folder=QUARANTINE)
    joes = seeder.deliver(parties.joe, seeder.message(subject="held two"), folder=QUARANTINE)
    seeder.deliver(parties.jane, seeder.message(subject="ordinary"))
    own = await client.get("/api/v1/quarantine", headers=parties.owner)
    assert own.status_code == 200, own.text
    [item] = own.json()["items"]
    assert (item["id"], item["folder"], item["release_to"]) == (held.id, QUARANTINE, "INBOX")
    assert item["subject"] == "held one"
    # The tenant admin sees the tenant's held mail, or one mailbox's.
    tenant = await client.get("/api/v1/quarantine", headers=parties.tenant_admin)
    assert {i["id"] for i in tenant.json()["items"]} == {held.id, joes.id}
    one = await client.get(
        "/api/v1/quarantine", params={"mailbox": parties.joe.address}, headers=parties.tenant_admin
    )
    assert [i["id"] for i in one.json()["items"]] == [joes.id]
    # An ordinary listing leaves held mail out; by name, Quarantine lists it.
    inbox = await client.get("/api/v1/messages", headers=parties.owner)
    assert [i["subject"] for i in inbox.json()["items"]] == ["ordinary"]
    by_name = await client.get(
        "/api/v1/messages", params={"folder": QUARANTINE}, headers=parties.owner
    )
    assert [i["id"] for i in by_name.json()["items"]] == [held.id]


async def test_pages_follow_the_next_cursor(client, seeder, parties):
    held = [
        seeder.deliver(parties.jane, seeder.message(subject=f"h{n}"), folder=QUARANTINE)
        for n in range(3)
    ]
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2}
    while True:
        page = (await client.get("/api/v1/quarantine", params=params, headers=parties.owner)).json()
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        params["before"] = page["next"]
    assert seen == [e.id for e in reversed(held)]


async def test_release_moves_it_to_inbox_and_records_the_event(
    client, seeder, parties, expect_problem
):
    held = seeder.deliver(parties.jane, seeder.message(subject="wanted"), folder=QUARANTINE)
    released = await client.post(f"/api/v1/quarantine/{held.id}/release", headers=parties.owner)
    assert released.status_code == 200, released.text
    assert (released.json()["id"], released.json()["folder"]) == (held.id, "INBOX")
    inbox = await client.get("/api/v1/messages", headers=parties.owner)
    assert [i["id"] for i in inbox.json()["items"]] == [held.id]
    # The event log, as the operator reads it (the parties' tenant admin has no `admin`).
    events = await client.get("/api/v1/events", params={"type": "QuarantineReleased"})
    assert events.status_code == 200, events.text
    [event] = events.json()["items"]
    assert (event["queue_id"], event["message_id"]) == (held.message_id, held.thread.message_id)
    assert event["recipient"] == parties.jane.address
    assert event["detail"]["entry_id"] == held.id and event["detail"]["folder"] == "INBOX"
    # Not held any more: a second release is a conflict, and so is a delete.
    again = await client.post(f"/api/v1/quarantine/{held.id}/release", headers=parties.owner)
    expect_problem(again, 409)
    expect_problem(await client.delete(f"/api/v1/quarantine/{held.id}", headers=parties.owner), 409)


async def test_delete_removes_it_for_good(client, seeder, parties, expect_problem):
    held = seeder.deliver(parties.jane, seeder.message(subject="junk"), folder=QUARANTINE)
    deleted = await client.delete(f"/api/v1/quarantine/{held.id}", headers=parties.owner)
    assert deleted.status_code == 204, deleted.text
    expect_problem(await client.get(f"/api/v1/messages/{held.id}", headers=parties.owner), 404)
    listed = await client.get("/api/v1/quarantine", headers=parties.owner)
    assert listed.json()["items"] == []


async def test_held_mail_is_not_moved_out_by_a_plain_move(client, seeder, parties, expect_problem):
    held = seeder.deliver(parties.jane, seeder.message(), folder=QUARANTINE)
    moved = await client.post(
        f"/api/v1/messages/{held.id}/move", json={"folder": "INBOX"}, headers=parties.owner
    )
    expect_problem(moved, 409)
    expect_problem(await client.delete(f"/api/v1/messages/{held.id}", headers=parties.owner), 409)


async def test_outsiders_neither_see_nor_release_nor_delete(
    client, seeder, parties, expect_problem
):
    held = seeder.deliver(parties.jane, seeder.message(subject="secret"), folder=QUARANTINE)
    for _who, headers in parties.outsiders:
        listed = await client.get("/api/v1/quarantine", headers=headers)
        assert listed.status_code == 200 and held.id not in listed.text
        expect_problem(
            await client.get(
                "/api/v1/quarantine", params={"mailbox": parties.jane.address}, headers=headers
            ),
            404,
        )
        expect_problem(
            await client.post(f"/api/v1/quarantine/{held.id}/release", headers=headers), 404
        )
        expect_problem(await client.delete(f"/api/v1/quarantine/{held.id}", headers=headers), 404)
    # The owner's positive twin: still held, and theirs to release.
    released = await client.post(f"/api/v1/quarantine/{held.id}/release", headers=parties.owner)
    assert released.status_code == 200, released.text
