"""Depth, alias, size and cost limits refuse an abusive operation before any resolver
runs; ordinary operations (and the documented ones) stay well inside them."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse

from mairust.api.graphql import limits
from mairust.api.graphql.limits import MAX_COST, MAX_PAGE, operation_cost, page_size
from mairust.errors import InvalidInput
from tests.mairust.api.graphql.conftest import GraphQL

ITEM = "{ id mailbox from to subject date receivedAt size folder tags seen flagged }"
OPERATIONS = Path(__file__).parents[4] / "docs" / "graphql" / "operations.graphql"


def test_page_size_bounds() -> None:
    assert page_size(1) == 1 and page_size(MAX_PAGE) == MAX_PAGE
    for bad in (0, -1, MAX_PAGE + 1):
        with pytest.raises(InvalidInput):
            page_size(bad)


def test_cost_counts_pages_from_literals_variables_and_defaults() -> None:
    # messages 1 + items 1 + 10 x id + next 1
    assert operation_cost(parse("{ messages(first: 10) { items { id } next } }"), None, {}) == 13
    by_variable = parse("query($n: Int!) { messages(first: $n) { items { id subject } } }")
    assert operation_cost(by_variable, None, {"n": 10}) == 22
    # A variable not given counts at its default, or else as the largest page.
    assert operation_cost(by_variable, None, {}) == 2 + 2 * MAX_PAGE
    with_default = parse("query($n: Int! = 7) { messages(first: $n) { items { id } } }")
    assert operation_cost(with_default, None, {}) == 2 + 7
    default = parse("{ threads { items { count latest { id } } } }")
    assert operation_cost(default, None, {}) == 2 + 3 * limits.DEFAULT_PAGE
    thread = parse('{ thread(messageId: "x", first: 5) { id messages { id } } }')
    assert operation_cost(thread, None, {}) == 3 + 5
    unpaged = parse("{ mailboxes { id address } }")
    assert operation_cost(unpaged, None, {}) == 1 + 2 * 500
    fragment = parse(
        "query Q { ...F a: messages(first: 2) { items { id } } } "
        "fragment F on Query { messages(first: 2) { items { id } } }"
    )
    assert operation_cost(fragment, "Q", {}) == 2 * (2 + 2)


def test_the_documented_operations_are_cheap() -> None:
    document = parse(OPERATIONS.read_text())
    names = [
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]
    assert len(names) == 14
    for name in names:
        assert operation_cost(document, name, {}) <= MAX_COST, name
        assert operation_cost(document, name, {"first": MAX_PAGE}) <= MAX_COST, name


async def test_twenty_full_pages_cost_too_much(graphql: GraphQL) -> None:
    pages = " ".join(f"p{n}: messages(first: {MAX_PAGE}) {{ items {ITEM} }}" for n in range(20))
    answer = await graphql(f"{{ {pages} }}")
    assert answer.data is None
    assert answer.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "costs" in answer.errors[0]["message"]
    # One such page is fine.
    one = await graphql(f"{{ messages(first: {MAX_PAGE}) {{ items {ITEM} }} }}")
    assert one.errors == []


async def test_a_large_page_through_a_variable_is_counted(graphql: GraphQL) -> None:
    query = (
        "query($n: Int!) { "
        + " ".join(f"p{n}: messages(first: $n) {{ items {ITEM} }}" for n in range(8))
        + " }"
    )
    assert (await graphql(query, {"n": 5})).errors == []
    refused = await graphql(query, {"n": MAX_PAGE})
    assert refused.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "costs" in refused.errors[0]["message"]


async def test_a_deep_operation_is_refused(graphql: GraphQL) -> None:
    # Our types have no cycle (and the limiter leaves introspection to graphql-core's own
    # bound), so no valid operation is this deep: the limiter must still name the depth.
    nested = "spf"
    for n in range(limits.MAX_DEPTH):
        nested = f"f{n} {{ {nested} }}"
    answer = await graphql(f"{{ threads {{ items {{ latest {{ auth {{ {nested} }} }} }} }} }}")
    assert answer.data is None
    assert set(answer.codes) == {"GRAPHQL_VALIDATION_FAILED"}
    assert any("exceeds maximum operation depth" in e["message"] for e in answer.errors)
    deepest = await graphql("{ threads { items { latest { auth { spf } } } } }")
    assert deepest.errors == []


async def test_too_many_aliases_are_refused(graphql: GraphQL) -> None:
    aliases = " ".join(f"m{n}: mailboxes {{ id }}" for n in range(limits.MAX_ALIASES + 1))
    answer = await graphql(f"{{ {aliases} }}")
    assert answer.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "aliases" in answer.errors[0]["message"]


async def test_an_oversized_document_is_refused(graphql: GraphQL) -> None:
    fields = " ".join(["id"] * limits.MAX_TOKENS)
    answer = await graphql(f"{{ mailboxes {{ {fields} }} }}")
    assert answer.data is None
    assert "token" in answer.errors[0]["message"].lower()


def test_valid_documents_keeps_the_newest_within_its_size() -> None:
    valid = limits.ValidDocuments(size=2)
    valid.add("a")
    valid.add("b")
    assert "a" in valid  # now the newest
    valid.add("c")
    assert "a" in valid and "c" in valid and "b" not in valid


async def test_a_document_seen_valid_is_still_costed_and_checked_each_time(
    graphql: GraphQL,
) -> None:
    query = "query($n: Int!) { messages(first: $n) { items { id } } }"
    assert (await graphql(query, {"n": 10})).errors == []
    assert (await graphql(query, {"n": 0})).codes == ["BAD_USER_INPUT"]
    assert (await graphql(query, {"n": "ten"})).codes == ["BAD_USER_INPUT"]
