"""Folders over REST: list with counts, create, rename (with `/` in names), delete only
when empty, system folders untouchable; every call 404 for another tenant and for another
user of the same tenant, with the owner's positive twin."""

from __future__ import annotations

import pytest

from tests.support.mailbox_parties import mailbox_parties


@pytest.fixture
def parties(app, seeder):
    return mailbox_parties(app, seeder)


def folders_url(address: str, folder: str = "") -> str:
    return f"/api/v1/mailboxes/{address}/folders" + (f"/{folder}" if folder else "")


async def test_folders_list_with_counts(client, seeder, parties):
    jane = parties.jane
    first = seeder.deliver(jane, seeder.message())
    seeder.deliver(jane, seeder.message())
    seeder.deliver(jane, seeder.message(), folder="Archive/2025")
    await client.post(f"/api/v1/messages/{first.id}/flags", json={"seen": True})
    response = await client.get(folders_url(jane.address), headers=parties.owner)
    assert response.status_code == 200
    assert response.json()["items"] == [
        {"name": "INBOX", "total": 2, "unread": 1, "system": True},
        {"name": "Trash", "total": 0, "unread": 0, "system": True},
        {"name": "Junk", "total": 0, "unread": 0, "system": True},
        {"name": "Quarantine", "total": 0, "unread": 0, "system": True},
        {"name": "Archive/2025", "total": 1, "unread": 1, "system": False},
    ]


async def test_create_rename_and_delete(client, seeder, parties, expect_problem):
    jane, owner = parties.jane, parties.owner
    created = await client.post(folders_url(jane.address), json={"name": "Projects"}, headers=owner)
    assert created.status_code == 201
    assert created.json() == {"name": "Projects", "total": 0, "unread": 0, "system": False}
    expect_problem(
        await client.post(folders_url(jane.address), json={"name": "Projects"}, headers=owner), 409
    )
    entry = seeder.deliver(jane, seeder.message(), folder="Projects")
    renamed = await client.patch(
        folders_url(jane.address, "Projects"), json={"name": "Done/2026"}, headers=owner
    )
    assert renamed.status_code == 200 and renamed.json() == {"name": "Done/2026", "moved": 1}
    moved = await client.get(f"/api/v1/messages/{entry.id}", headers=owner)
    assert moved.json()["folder"] == "Done/2026"
    # A name with a slash is the rest of the path.
    expect_problem(await client.delete(folders_url(jane.address, "Done/2026"), headers=owner), 409)
    await client.delete(f"/api/v1/messages/{entry.id}", headers=owner)  # to Trash
    assert (
        await client.post(folders_url(jane.address), json={"name": "Done/2026"}, headers=owner)
    ).status_code == 409
    deleted = await client.delete(folders_url(jane.address, "Done/2026"), headers=owner)
    assert deleted.status_code == 204
    names = [
        f["name"]
        for f in (await client.get(folders_url(jane.address), headers=owner)).json()["items"]
    ]
    assert "Done/2026" not in names and "Projects" not in names


@pytest.mark.parametrize("name", ["INBOX", "Trash", "Junk", "Quarantine", "inbox"])
async def test_system_folders_cannot_be_created_renamed_or_deleted(
    client, parties, expect_problem, name
):
    jane, owner = parties.jane, parties.owner
    expect_problem(
        await client.post(folders_url(jane.address), json={"name": name}, headers=owner), 409
    )
    expect_problem(
        await client.patch(folders_url(jane.address, name), json={"name": "Mine"}, headers=owner),
        409,
    )
    expect_problem(await client.delete(folders_url(jane.address, name), headers=owner), 409)


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": " padded"},
        {"name": "a//b"},
        {"name": "x*"},
        {},
        {"name": "ok", "tenant_id": "t"},
    ],
)
async def test_bad_folder_names_are_422(client, parties, expect_problem, body):
    expect_problem(
        await client.post(folders_url(parties.jane.address), json=body, headers=parties.owner), 422
    )


async def test_unknown_folder_is_404(client, parties, expect_problem):
    url = folders_url(parties.jane.address, "Nope")
    expect_problem(await client.patch(url, json={"name": "Yes"}, headers=parties.owner), 404)
    expect_problem(await client.delete(url, headers=parties.owner), 404)


FOLDER_CALLS = [
    ("get", "", None, 200),
    ("post", "", {"name": "New"}, 201),
    ("patch", "Archive", {"name": "Old"}, 200),
    ("delete", "Empty", None, 204),
]


@pytest.mark.parametrize(("method", "folder", "body", "status"), FOLDER_CALLS)
async def test_outsiders_get_404_and_the_owner_gets_the_folder(
    client, seeder, parties, expect_problem, method, folder, body, status
):
    seeder.deliver(parties.jane, seeder.message(), folder="Archive")
    created = await client.post(
        folders_url(parties.jane.address), json={"name": "Empty"}, headers=parties.owner
    )
    assert created.status_code == 201
    url = folders_url(parties.jane.address, folder)
    for who, headers in parties.outsiders:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 404, (who, response.text)
        expect_problem(response, 404)
    response = await client.request(method, url, json=body, headers=parties.owner)
    assert response.status_code == status, response.text
    listed = (
        await client.get(folders_url(parties.jane.address), headers=parties.tenant_admin)
    ).json()
    names = {f["name"] for f in listed["items"]}
    expected = {
        "get": {"Archive", "Empty"},
        "post": {"Archive", "Empty", "New"},
        "patch": {"Old", "Empty"},
        "delete": {"Archive"},
    }[method]
    assert names - {"INBOX", "Trash", "Junk", "Quarantine"} == expected
