"""The GraphQL mutations: tag, move, flag and delete change the message and answer it as
it is now; a read-only token and bad input change nothing."""

from __future__ import annotations

import pytest

from mairust.model.scope import PLATFORM
from mairust.storage.stores import Stores
from tests.mairust.api.graphql.conftest import GraphQL, World

FIELDS = "{ id folder tags seen flagged }"


async def test_tag_adds_and_removes(graphql: GraphQL, world: World, stores: Stores) -> None:
    answer = await graphql(
        f'mutation($id: ID!) {{ tagMessage(id: $id, add: ["q1", "tax"], remove: ["billing"]) '
        f"{FIELDS} }}",
        {"id": world.other.id},
    )
    assert answer.errors == []
    assert answer.data is not None
    assert answer.data["tagMessage"]["tags"] == ["q1", "tax"]
    assert stores.metadata.get_entry(PLATFORM, world.other.id).tags == ("q1", "tax")


async def test_move_and_delete_to_trash(graphql: GraphQL, world: World, stores: Stores) -> None:
    moved = await graphql(
        f'mutation($id: ID!) {{ moveMessage(id: $id, folder: "Projects/2026") {FIELDS} }}',
        {"id": world.reply.id},
        token="alice",
    )
    assert moved.data is not None
    assert moved.data["moveMessage"]["folder"] == "Projects/2026"
    deleted = await graphql(
        f"mutation($id: ID!) {{ deleteMessage(id: $id) {FIELDS} }}", {"id": world.reply.id}
    )
    assert deleted.data is not None
    assert deleted.data["deleteMessage"]["folder"] == "Trash"
    assert stores.metadata.get_entry(PLATFORM, world.reply.id).folder == "Trash"


async def test_flag_sets_only_what_is_given(graphql: GraphQL, world: World) -> None:
    query = f"mutation($id: ID!, $seen: Boolean, $flagged: Boolean) {{ flagMessage(id: $id, seen: $seen, flagged: $flagged) {FIELDS} }}"  # noqa: E501
    seen = await graphql(query, {"id": world.other.id, "seen": True})
    assert seen.data is not None
    assert (seen.data["flagMessage"]["seen"], seen.data["flagMessage"]["flagged"]) == (True, False)
    flagged = await graphql(query, {"id": world.other.id, "flagged": True})
    assert flagged.data is not None
    assert (flagged.data["flagMessage"]["seen"], flagged.data["flagMessage"]["flagged"]) == (
        True,
        True,
    )
    unread = await graphql("{ messages(filter: {unread: true}) { items { id } } }", token="alice")
    assert unread.data == {"messages": {"items": [{"id": world.reply.id}]}}


@pytest.mark.parametrize(
    "mutation",
    [
        'tagMessage(id: $id, add: ["x"])',
        'moveMessage(id: $id, folder: "Old")',
        "flagMessage(id: $id, seen: true)",
        "deleteMessage(id: $id)",
    ],
)
async def test_a_read_only_token_is_forbidden(
    graphql: GraphQL, world: World, stores: Stores, mutation: str
) -> None:
    before = stores.metadata.get_entry(PLATFORM, world.other.id)
    answer = await graphql(
        f"mutation($id: ID!) {{ {mutation} {{ id }} }}", {"id": world.other.id}, token="a_read"
    )
    assert answer.codes == ["FORBIDDEN"]
    assert stores.metadata.get_entry(PLATFORM, world.other.id) == before


@pytest.mark.parametrize(
    "mutation",
    [
        'tagMessage(id: $id, add: ["two words"])',
        'tagMessage(id: $id, add: ["x"], remove: ["x"])',
        'tagMessage(id: $id, add: ["' + "t" * 65 + '"])',
        'moveMessage(id: $id, folder: " Old")',
        'moveMessage(id: $id, folder: "a//b")',
        'moveMessage(id: $id, folder: "")',
    ],
)
async def test_bad_input_changes_nothing(
    graphql: GraphQL, world: World, stores: Stores, mutation: str
) -> None:
    before = stores.metadata.get_entry(PLATFORM, world.other.id)
    answer = await graphql(f"mutation($id: ID!) {{ {mutation} {{ id }} }}", {"id": world.other.id})
    assert answer.codes == ["BAD_USER_INPUT"], answer.errors
    assert stores.metadata.get_entry(PLATFORM, world.other.id) == before
