"""The GraphQL queries over two tenants' mail: what each token sees, the listing filters,
cursor pagination (the same cursors as REST), threads, search (paged by cursor on both
search backends) and refused input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mairust.model.hook_jobs import JobEffect, JobTarget
from mairust.model.ids import new_id
from mairust.model.principal import Role
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import Connect, SearchBackend, issue_token
from tests.mairust.api.graphql.conftest import T0, GraphQL, World
from tests.support.hook_jobs import install_job_plugin

MESSAGES = """
query($mailbox: ID, $filter: MessageFilter, $first: Int! = 50, $after: ID) {
  messages(mailboxId: $mailbox, filter: $filter, first: $first, after: $after) {
    items { id subject folder tags seen flagged mailbox from }
    next
  }
}"""


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


async def test_mailboxes_are_those_in_the_callers_scope(graphql: GraphQL) -> None:
    query = "{ mailboxes { id address role } }"
    for token, expected in (
        ("a", ["alice@a.example", "amos@a.example"]),
        ("b", ["bob@b.example"]),
        ("alice", ["alice@a.example"]),
    ):
        answer = await graphql(query, token=token)
        assert answer.errors == []
        assert answer.data is not None
        assert [m["address"] for m in answer.data["mailboxes"]] == expected


async def test_folders_of_a_mailbox_with_counts(graphql: GraphQL, world: World) -> None:
    answer = await graphql(
        "query($id: ID!) { folders(mailboxId: $id) { name total unread } }",
        {"id": world.alice.id},
    )
    assert answer.data is not None
    # Folders that hold mail, with their counts (empty system folders may be listed too).
    assert {f["name"]: (f["total"], f["unread"]) for f in answer.data["folders"] if f["total"]} == {
        "Archive": (1, 0),
        "INBOX": (2, 2),
    }


async def test_messages_newest_first_in_scope(graphql: GraphQL, world: World) -> None:
    tenant = await graphql(MESSAGES)
    assert tenant.data is not None
    assert _ids(tenant.data["messages"]) == [
        world.other.id,
        world.reply.id,
        *sorted([world.first.id, world.amos_note.id], reverse=True),
    ]
    user = await graphql(MESSAGES, token="alice")
    assert user.data is not None
    assert _ids(user.data["messages"]) == [world.other.id, world.reply.id, world.first.id]
    other = await graphql(MESSAGES, token="b")
    assert other.data is not None
    assert _ids(other.data["messages"]) == [world.bob_note.id]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"folder": "Archive"}, ["first"]),
        ({"tag": "billing"}, ["other"]),
        ({"unread": False}, ["first"]),
        ({"unread": True}, ["other", "reply"]),
        ({"flagged": True}, ["first"]),
        ({"from": "@partner.example", "folder": "INBOX"}, ["other", "reply"]),
        ({"from": "@elsewhere.example"}, []),
        ({"receivedAfter": "2026-03-01T09:00:30+00:00"}, ["other", "reply"]),
        ({"receivedBefore": "2026-03-01T09:00:30+00:00"}, ["first"]),
        ({"auth": {"dmarc": "pass"}}, []),
        ({"auth": {"dmarc": "FAIL", "spf": "pass"}}, ["other"]),
        ({"auth": {"dmarc": "fail", "spf": "none"}}, []),
    ],
)
async def test_messages_filters(
    graphql: GraphQL, world: World, filter_: dict[str, Any], expected: list[str]
) -> None:
    answer = await graphql(MESSAGES, {"mailbox": world.alice.id, "filter": filter_})
    assert answer.errors == []
    assert answer.data is not None
    assert _ids(answer.data["messages"]) == [getattr(world, name).id for name in expected]


async def test_cursor_pages_match_the_rest_listing(
    graphql: GraphQL, world: World, connect: Connect
) -> None:
    pages, after = [], None
    while True:
        answer = await graphql(MESSAGES, {"mailbox": world.alice.id, "first": 1, "after": after})
        assert answer.data is not None
        page = answer.data["messages"]
        pages.append(_ids(page))
        after = page["next"]
        if after is None:
            break
    assert pages == [[world.other.id], [world.reply.id], [world.first.id]]
    # The REST listing hands out the very same cursors.
    async with connect(world.tokens["a"]) as c:
        rest = (await c.get("/api/v1/messages?mailbox=alice@a.example&limit=1")).json()
    first = await graphql(MESSAGES, {"mailbox": world.alice.id, "first": 1})
    assert first.data is not None
    assert rest["next"] == first.data["messages"]["next"] == world.other.id


async def test_one_message_parsed(graphql: GraphQL, world: World) -> None:
    answer = await graphql(
        "query($id: ID!) { message(id: $id) { id subject from to text html "
        "headers { name value } attachments { filename } threadId auth { spf } } }",
        {"id": world.reply.id},
    )
    assert answer.errors == []
    assert answer.data is not None
    message = answer.data["message"]
    assert message["subject"] == "Re: plans"
    assert message["from"] == "carol@partner.example"
    assert message["to"] == ["alice@a.example"]
    assert message["text"].strip() == "About Re: plans."
    assert message["html"] is None and message["attachments"] == [] and message["auth"] is None
    assert {"name": "In-Reply-To", "value": "<p1@partner.example>"} in message["headers"]
    assert message["threadId"] == world.first.thread_id


async def test_a_message_shows_its_post_receive_notes_by_plugin(
    graphql: GraphQL, world: World, stores: Stores, tmp_path: Path
) -> None:
    # The test plays the job loop's part: the plugin's job finished with two notes.
    install_job_plugin(stores, tmp_path, "summary-notes", "http://127.0.0.1:9/hook")
    target = JobTarget(world.reply.message_id, world.reply.tenant_id, "a.example")
    assert stores.metadata.add_hook_jobs("post_receive", [target]) == 1
    owner = f"test/{new_id()}"
    [job] = stores.metadata.lease_hook_jobs(owner, 10, 3600)
    effect = JobEffect("continue", notes=(("summary", "Plans for Monday."), ("language", "en")))
    assert stores.metadata.finish_hook_job(job.id, owner, effect)
    query = "query($id: ID!) { message(id: $id) { notes { plugin notes { name text } } } }"
    answer = await graphql(query, {"id": world.reply.id})
    assert answer.errors == []
    assert answer.data == {
        "message": {
            "notes": [
                {
                    "plugin": "summary-notes",
                    "notes": [
                        {"name": "language", "text": "en"},
                        {"name": "summary", "text": "Plans for Monday."},
                    ],
                }
            ]
        }
    }
    untouched = await graphql(query, {"id": world.first.id})
    assert untouched.data == {"message": {"notes": []}}


async def test_a_checked_message_shows_its_result_words(graphql: GraphQL, world: World) -> None:
    answer = await graphql(
        "query($id: ID!) { message(id: $id) { auth { spf dkim dmarc arc } } }",
        {"id": world.other.id},
    )
    assert answer.data == {
        "message": {"auth": {"spf": "pass", "dkim": None, "dmarc": "fail", "arc": None}}
    }


async def test_threads_and_the_thread_of_a_message(graphql: GraphQL, world: World) -> None:
    listing = await graphql(
        "query($id: ID) { threads(mailboxId: $id) { items { threadId count latest { id } } "
        "next } }",
        {"id": world.alice.id},
    )
    assert listing.data is not None
    assert [(t["latest"]["id"], t["count"]) for t in listing.data["threads"]["items"]] == [
        (world.other.id, 1),
        (world.reply.id, 2),
    ]
    paged = await graphql("{ threads(first: 1) { items { latest { id } } next } }")
    assert paged.data is not None
    assert paged.data["threads"]["next"] == world.other.id
    thread = await graphql(
        "query($id: ID!) { thread(messageId: $id) { id messages { id } } }",
        {"id": world.first.id},
    )
    assert thread.data is not None
    assert thread.data["thread"] == {
        "id": world.first.thread_id,
        "messages": [{"id": world.first.id}, {"id": world.reply.id}],
    }


async def test_search_finds_only_the_callers_messages(graphql: GraphQL, world: World) -> None:
    query = '{ search(query: "plans") { items { message { id } snippet } next } }'
    mine = await graphql(query)
    assert mine.data is not None
    found = {hit["message"]["id"] for hit in mine.data["search"]["items"]}
    assert found == {world.first.id, world.reply.id}
    assert mine.data["search"]["next"] is None
    theirs = await graphql(query, token="b")
    assert theirs.data is not None
    assert {hit["message"]["id"] for hit in theirs.data["search"]["items"]} == {world.bob_note.id}


@pytest.mark.parametrize(
    "query",
    [
        "{ messages(first: 0) { next } }",
        "{ messages(first: 201) { next } }",
        '{ messages(filter: {folder: "a*"}) { next } }',
        '{ messages(filter: {tag: "two words"}) { next } }',
        '{ messages(filter: {receivedAfter: "2026-03-02T00:00:00Z", '
        'receivedBefore: "2026-03-01T00:00:00Z"}) { next } }',
        '{ messages(filter: {auth: {dmarc: ""}}) { next } }',
        '{ search(query: "") { next } }',
        '{ search(query: "plans", first: 0) { next } }',
        '{ search(query: "plans", after: "") { next } }',
        '{ search(query: "plans", after: "' + "x" * 513 + '") { next } }',
        '{ search(query: "plans", after: "s1.W10.AAAA") { next } }',
        "{ threads(first: 0) { next } }",
    ],
)
async def test_bad_input_is_refused_as_such(graphql: GraphQL, query: str) -> None:
    answer = await graphql(query)
    assert answer.codes == ["BAD_USER_INPUT"], answer.errors


SEARCH = """query($q: String!, $mailboxId: ID, $first: Int!, $after: ID) {
  search(query: $q, mailboxId: $mailboxId, first: $first, after: $after) {
    items { score message { id } } next
  }
}"""


async def _search(
    backend: SearchBackend, token: str, q: str, first: int = 50, **more: object
) -> dict[str, Any]:
    response = await backend.client.post(
        "/graphql",
        json={"query": SEARCH, "variables": {"q": q, "first": first, **more}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_search_pages_by_cursor_on_every_backend(search_backend: SearchBackend) -> None:
    seeder = search_backend.seeder
    jane_tenant = seeder.tenant("example.com")
    jane = seeder.mailbox("jane@example.com")
    olga_tenant = seeder.tenant("other.example")
    olga = seeder.mailbox("olga@other.example")
    equal = seeder.message(subject="Ledger", body="the ledger")
    ids = sorted(seeder.deliver(jane, equal, received_at=T0).id for _ in range(17))
    seeder.deliver(olga, seeder.message(subject="Ledger", to=olga.address), received_at=T0)
    jane_admin = issue_token(search_backend.app, Role.TENANT_ADMIN, jane_tenant.id)
    whole = (await _search(search_backend, jane_admin, "ledger", 200))["data"]["search"]
    assert [item["message"]["id"] for item in whole["items"]] == ids  # equal scores: by id
    assert len({item["score"] for item in whole["items"]}) == 1
    for first in (1, 4, 16, 17):
        walked: list[str] = []
        after = None
        for _ in range(30):
            page = (await _search(search_backend, jane_admin, "ledger", first, after=after))[
                "data"
            ]["search"]
            walked.extend(item["message"]["id"] for item in page["items"])
            after = page["next"]
            if after is None:
                break
        assert walked == ids, first  # each hit once, in order
    cursor = (await _search(search_backend, jane_admin, "ledger", 5))["data"]["search"]["next"]
    # the REST search takes the same cursor (same search, same scope): the same next page
    rest = await search_backend.client.get(
        "/api/v1/search",
        params={"q": "ledger", "limit": 5, "before": cursor},
        headers={"Authorization": f"Bearer {jane_admin}"},
    )
    assert [item["id"] for item in rest.json()["items"]] == ids[5:10]
    # another query, another mailbox argument, an altered cursor, another tenant: refused
    olga_admin = issue_token(search_backend.app, Role.TENANT_ADMIN, olga_tenant.id)
    head, payload, mac = cursor.split(".")
    refused = [
        (jane_admin, "ledger the", {}),
        (jane_admin, "ledger", {"mailboxId": jane.id}),
        (jane_admin, "ledger", {"after": f"{head}.{payload}.{mac[::-1]}"}),
        (olga_admin, "ledger", {}),
    ]
    for token, q, more in refused:
        answer = await _search(search_backend, token, q, **{"after": cursor, **more})
        assert answer["data"] is None
        codes = [error["extensions"]["code"] for error in answer["errors"]]
        assert codes == ["BAD_USER_INPUT"], answer
        assert jane.address not in str(answer)
