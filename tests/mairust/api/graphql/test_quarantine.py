"""Quarantine over GraphQL, as over REST: the held messages in the caller's scope with the
folder a release puts them in, release to that folder, delete for good; another tenant's
held message is not found, and a message that is not held is a CONFLICT."""

from __future__ import annotations

import pytest

from mairust.errors import NotFound
from mairust.model.folders import QUARANTINE
from mairust.model.scope import PLATFORM
from mairust.storage.stores import Stores
from tests.mairust.api.graphql.conftest import GraphQL, World

HELD = "query($first: Int) { quarantine(first: $first) { items { id folder releaseTo } next } }"


@pytest.fixture
def held(world: World, stores: Stores) -> World:
    """alice's reply and bob's note held in Quarantine (as a quarantine verdict leaves them)."""
    stores.metadata.move_entry(PLATFORM, world.reply.id, QUARANTINE)
    stores.metadata.move_entry(PLATFORM, world.bob_note.id, QUARANTINE)
    return world


async def test_the_held_messages_of_the_callers_scope(graphql: GraphQL, held: World) -> None:
    answer = await graphql(HELD)
    assert answer.errors == []
    assert answer.data == {
        "quarantine": {
            "items": [{"id": held.reply.id, "folder": QUARANTINE, "releaseTo": "INBOX"}],
            "next": None,
        }
    }
    theirs = await graphql(HELD, token="b")
    assert theirs.data is not None
    assert [item["id"] for item in theirs.data["quarantine"]["items"]] == [held.bob_note.id]


async def test_release_puts_it_in_its_folder_once(
    graphql: GraphQL, held: World, stores: Stores
) -> None:
    release = "mutation($id: ID!) { releaseMessage(id: $id) { id folder } }"
    answer = await graphql(release, {"id": held.reply.id}, token="alice")
    assert answer.errors == []
    assert answer.data == {"releaseMessage": {"id": held.reply.id, "folder": "INBOX"}}
    assert stores.metadata.get_entry(PLATFORM, held.reply.id).folder == "INBOX"
    again = await graphql(release, {"id": held.reply.id}, token="alice")
    assert again.codes == ["CONFLICT"] and again.data is None


async def test_delete_removes_it_for_good(graphql: GraphQL, held: World, stores: Stores) -> None:
    delete = "mutation($id: ID!) { deleteHeldMessage(id: $id) }"
    answer = await graphql(delete, {"id": held.reply.id})
    assert answer.errors == []
    assert answer.data == {"deleteHeldMessage": held.reply.id}
    with pytest.raises(NotFound):
        stores.metadata.get_entry(PLATFORM, held.reply.id)
    not_held = await graphql(delete, {"id": held.other.id})
    assert not_held.codes == ["CONFLICT"]
    assert stores.metadata.get_entry(PLATFORM, held.other.id).folder != QUARANTINE


async def test_another_tenants_held_message_is_not_found(
    graphql: GraphQL, held: World, stores: Stores
) -> None:
    for mutation in (
        "mutation($id: ID!) { releaseMessage(id: $id) { id } }",
        "mutation($id: ID!) { deleteHeldMessage(id: $id) }",
    ):
        answer = await graphql(mutation, {"id": held.bob_note.id})
        assert answer.codes == ["NOT_FOUND"]
    assert stores.metadata.get_entry(PLATFORM, held.bob_note.id).folder == QUARANTINE


async def test_a_read_only_token_releases_nothing(
    graphql: GraphQL, held: World, stores: Stores
) -> None:
    answer = await graphql(
        "mutation($id: ID!) { releaseMessage(id: $id) { id } }",
        {"id": held.reply.id},
        token="a_read",
    )
    assert answer.codes == ["FORBIDDEN"]
    assert stores.metadata.get_entry(PLATFORM, held.reply.id).folder == QUARANTINE
