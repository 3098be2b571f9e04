"""Tenant isolation of every GraphQL field that takes an id, generated from the schema.

``ID_ARGUMENTS`` is read from the schema itself, so a new field (or argument, or input
field) of type ID fails ``test_every_id_argument_has_a_case`` until it gets a case here.
Each case is tried with tenant B's token and with another user of tenant A on an id of
alice's (→ NOT_FOUND, or for a cursor the very answer an unknown id gets, and nothing
changed), then with A's own token (→ the object), so a broken field cannot pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLObjectType,
    get_named_type,
)

from mairust.api.graphql import build_schema
from mairust.model.folders import QUARANTINE
from mairust.model.ids import new_id
from mairust.model.scope import PLATFORM
from mairust.storage.stores import Stores
from tests.mairust.api.graphql.conftest import T0, Answer, GraphQL, World, deliver, mail


def _input_ids(name: str, kind: GraphQLInputType) -> Iterator[str]:
    named = get_named_type(kind)
    if named.name == "ID":
        yield name
    elif isinstance(named, GraphQLInputObjectType):
        for field_name, field in named.fields.items():
            yield from _input_ids(f"{name}.{field_name}", field.type)


def id_arguments() -> list[str]:
    """``Type.field(argument)`` for every argument (or input field) of type ID."""
    schema = build_schema()._schema
    found = []
    for type_name, kind in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(kind, GraphQLObjectType):
            continue
        for field_name, field in kind.fields.items():
            for arg_name, arg in field.args.items():
                found += [f"{type_name}.{field_name}({p})" for p in _input_ids(arg_name, arg.type)]
    return sorted(found)


ID_ARGUMENTS = id_arguments()


@dataclass(frozen=True)
class Case:
    operation: str  # takes $id: ID!
    field: str  # the top-level field the operation asks for
    own_id: Callable[[World], str]  # an id of alice's (tenant A)
    cursor: bool = False  # a cursor: refused like an unknown one, not NOT_FOUND
    # The tokens whose answer is the object. A search cursor is sealed to the scope whose
    # search made it (``sealed_by``: an operation whose ``next`` is the cursor, asked with
    # the first owner's token): a search of A's admin, so alice's own token is an outsider.
    owners: tuple[str, ...] = ("a", "alice")
    sealed_by: str | None = None
    # Mail held in Quarantine first (``held(stores, world)`` answers the id to use in place
    # of ``own_id``); ``fresh``: a new held message for each owner (a release or a delete
    # takes it out of Quarantine).
    held: Callable[[Stores, World], str] | None = None
    fresh: bool = False


def _alice(world: World) -> str:
    return world.alice.id


def _other(world: World) -> str:
    return world.other.id


def _reply(world: World) -> str:
    return world.reply.id


def _hold_reply(stores: Stores, world: World) -> str:
    """alice's reply held: her mailbox's Quarantine is not empty; the mailbox's id."""
    stores.metadata.move_entry(PLATFORM, world.reply.id, QUARANTINE)
    return world.alice.id


def _hold_two(stores: Stores, world: World) -> str:
    """alice's reply and newest message held; the newest one is the cursor."""
    for entry in (world.reply, world.other):
        stores.metadata.move_entry(PLATFORM, entry.id, QUARANTINE)
    return world.other.id


def _hold_new(stores: Stores, world: World) -> str:
    """A new message of alice's, held; its entry id."""
    raw = mail("held", world.alice.address, f"{new_id()}@partner.example")
    entry = deliver(stores, world.alice, raw, T0)
    stores.metadata.move_entry(PLATFORM, entry.id, QUARANTINE)
    return entry.id


CASES: dict[str, Case] = {
    "Query.folders(mailboxId)": Case(
        "query($id: ID!) { folders(mailboxId: $id) { name total } }", "folders", _alice
    ),
    "Query.messages(mailboxId)": Case(
        "query($id: ID!) { messages(mailboxId: $id) { items { id } } }", "messages", _alice
    ),
    "Query.messages(after)": Case(
        "query($id: ID!) { messages(after: $id) { items { id } } }", "messages", _other, True
    ),
    "Query.message(id)": Case(
        "query($id: ID!) { message(id: $id) { id subject text } }", "message", _reply
    ),
    "Query.threads(mailboxId)": Case(
        "query($id: ID!) { threads(mailboxId: $id) { items { threadId count } } }",
        "threads",
        _alice,
    ),
    "Query.threads(after)": Case(
        "query($id: ID!) { threads(after: $id) { items { threadId } } }", "threads", _other, True
    ),
    "Query.thread(messageId)": Case(
        "query($id: ID!) { thread(messageId: $id) { id messages { id } } }", "thread", _reply
    ),
    "Query.search(mailboxId)": Case(
        'query($id: ID!) { search(query: "plans", mailboxId: $id) { items { score } } }',
        "search",
        _alice,
    ),
    "Query.search(after)": Case(
        'query($id: ID!) { search(query: "plans", first: 1, after: $id) { items { score } } }',
        "search",
        _other,
        cursor=True,
        owners=("a",),
        sealed_by='{ search(query: "plans", first: 1) { next } }',
    ),
    "Mutation.tagMessage(id)": Case(
        'mutation($id: ID!) { tagMessage(id: $id, add: ["x"]) { id tags } }', "tagMessage", _reply
    ),
    "Mutation.moveMessage(id)": Case(
        'mutation($id: ID!) { moveMessage(id: $id, folder: "Old") { id folder } }',
        "moveMessage",
        _reply,
    ),
    "Mutation.flagMessage(id)": Case(
        "mutation($id: ID!) { flagMessage(id: $id, flagged: true) { id flagged } }",
        "flagMessage",
        _reply,
    ),
    "Mutation.deleteMessage(id)": Case(
        "mutation($id: ID!) { deleteMessage(id: $id) { id folder } }", "deleteMessage", _reply
    ),
    "Query.quarantine(mailboxId)": Case(
        "query($id: ID!) { quarantine(mailboxId: $id) { items { id releaseTo } } }",
        "quarantine",
        _alice,
        held=_hold_reply,
    ),
    "Query.quarantine(after)": Case(
        "query($id: ID!) { quarantine(after: $id) { items { id } } }",
        "quarantine",
        _other,
        cursor=True,
        held=_hold_two,
    ),
    "Mutation.releaseMessage(id)": Case(
        "mutation($id: ID!) { releaseMessage(id: $id) { id folder } }",
        "releaseMessage",
        _reply,
        held=_hold_new,
        fresh=True,
    ),
    "Mutation.deleteHeldMessage(id)": Case(
        "mutation($id: ID!) { deleteHeldMessage(id: $id) }",
        "deleteHeldMessage",
        _reply,
        held=_hold_new,
        fresh=True,
    ),
}


def test_the_schema_has_id_arguments() -> None:
    assert len(ID_ARGUMENTS) >= 10


def test_every_id_argument_has_a_case() -> None:
    assert set(ID_ARGUMENTS) == set(CASES)


def _not_found(answer: Answer, field: str) -> None:
    assert answer.codes == ["NOT_FOUND"], answer.errors
    assert answer.data is None or answer.data.get(field) is None


def _has_object(answer: Answer, field: str) -> Any:
    assert answer.errors == [], answer.errors
    assert answer.data is not None
    found = answer.data[field]
    assert found, field
    if isinstance(found, dict) and "items" in found:
        assert found["items"], field
    return found


def _snapshot(stores: Stores, world: World) -> list[Any]:
    """What a refused mutation must leave as it was: every entry of tenant A."""
    ids = [world.first.id, world.reply.id, world.other.id, world.amos_note.id]
    ids += [e.id for e in stores.metadata.list_entries(PLATFORM, world.alice.id, QUARANTINE)]
    return stores.metadata.get_entries(PLATFORM, ids)


@pytest.mark.parametrize("argument", ID_ARGUMENTS)
async def test_another_tenant_or_user_gets_nothing_and_the_owner_gets_it(
    graphql: GraphQL, world: World, stores: Stores, argument: str
) -> None:
    case = CASES[argument]
    own = {"id": case.held(stores, world) if case.held else case.own_id(world)}
    if case.sealed_by is not None:
        sealed = await graphql(case.sealed_by, token=case.owners[0])
        assert sealed.data is not None and sealed.data[case.field]["next"], sealed.errors
        own = {"id": sealed.data[case.field]["next"]}
    before = _snapshot(stores, world)
    unknown = await graphql(case.operation, {"id": new_id()}, token="b")
    outsiders = ["b", "amos"] + [who for who in ("a", "alice") if who not in case.owners]
    for outsider in outsiders:
        answer = await graphql(case.operation, own, token=outsider)
        if case.cursor:
            # A foreign cursor is refused exactly like one that never existed.
            assert answer.codes == ["BAD_USER_INPUT"]
            assert answer == unknown
        else:
            _not_found(answer, case.field)
            _not_found(unknown, case.field)
    assert _snapshot(stores, world) == before
    for owner in case.owners:
        if case.fresh and case.held is not None:
            own = {"id": case.held(stores, world)}
        _has_object(await graphql(case.operation, own, token=owner), case.field)
