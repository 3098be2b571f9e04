"""Threading headers read into bounded normalised ids, and the grouping rule: threads are
the connected parts of the id graph, whatever order the messages arrive in."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mairust.model.threads import (
    MAX_ID_LENGTH,
    MAX_REFERENCES,
    ThreadHeaders,
    merge_threads,
    msg_ids,
    normalised_msg_id,
    thread_headers,
)

# -- reading the headers --------------------------------------------------------------


def test_ids_are_normalised_and_junk_between_them_skipped() -> None:
    assert normalised_msg_id("  <Abc.123@Mail.Example.COM>  ") == "<Abc.123@mail.example.com>"
    assert msg_ids('<a@x> (message of "Mon"), junk <b@Y>  <no-at-sign> <c@z') == [
        "<a@x>",
        "<b@y>",
    ]
    assert normalised_msg_id("a@x.test") is None  # no brackets: not an id
    assert normalised_msg_id("<@x>") is None
    assert normalised_msg_id("<a@>") is None
    assert normalised_msg_id("<a b@x>") is None


def test_thread_headers_read_all_three() -> None:
    headers = thread_headers(
        [
            ("Subject", "Re: hi"),
            ("message-id", "<Reply@Host.Test>"),
            ("In-Reply-To", "<parent@host.test> (Jane's message)"),
            ("References", "<root@host.test> <other@HOST.test>"),
        ]
    )
    assert headers == ThreadHeaders(
        message_id="<Reply@host.test>",
        in_reply_to="<parent@host.test>",
        references=("<root@host.test>", "<other@host.test>", "<parent@host.test>"),
    )
    assert headers.linked_ids == ("<Reply@host.test>", *headers.references)


def test_duplicates_and_self_references_are_dropped_first_header_wins() -> None:
    headers = thread_headers(
        [
            ("Message-ID", "<me@x>"),
            ("Message-ID", "<impostor@x>"),
            ("References", "<a@x> <me@x> <a@x> <b@x>"),
            ("References", "<ignored@x>"),
            ("In-Reply-To", "<b@x>"),
        ]
    )
    assert headers.message_id == "<me@x>"
    assert headers.references == ("<a@x>", "<b@x>")


def test_no_headers_is_no_links() -> None:
    headers = thread_headers([("Subject", "hello")])
    assert headers == ThreadHeaders()
    assert headers.linked_ids == ()


def test_hostile_headers_are_bounded() -> None:
    many = " ".join(f"<ref{i}@x>" for i in range(10_000))
    long_id = "<" + "a" * MAX_ID_LENGTH + "@x>"
    fits = "<" + "b" * (MAX_ID_LENGTH - 4) + "@x>"
    assert len(fits) == MAX_ID_LENGTH
    headers = thread_headers(
        [
            ("Message-ID", long_id),
            ("References", many),
            ("In-Reply-To", fits + "\x00<ctl\x01@x>"),
        ]
    )
    assert headers.message_id is None  # too long: dropped, never cut short
    assert len(headers.references) == MAX_REFERENCES
    # The root and the nearest ancestors are the ones kept; In-Reply-To is the nearest.
    assert headers.references[0] == "<ref0@x>"
    assert headers.references[-2] == "<ref9999@x>"
    assert headers.references[-1] == fits
    assert all(len(ref) <= MAX_ID_LENGTH for ref in headers.references)
    assert msg_ids("<ctl\x01@x> <" + "c" * 10_000 + "@x>") == []


def test_thread_headers_built_elsewhere_are_held_to_the_same_bounds() -> None:
    with pytest.raises(ValueError, match="at most"):
        ThreadHeaders(references=tuple(f"<r{i}@x>" for i in range(MAX_REFERENCES + 1)))
    with pytest.raises(ValueError, match="at most"):
        ThreadHeaders(message_id="<" + "a" * MAX_ID_LENGTH + "@x>")


# -- merging ------------------------------------------------------------------------


def test_merge_joins_threads_sharing_a_node_into_the_smallest_id() -> None:
    renames = merge_threads([("<p@x>", "T5"), ("<p@x>", "T2"), ("<q@x>", "T2"), ("<q@x>", "T9")])
    assert renames == {"T5": "T2", "T9": "T2"}
    assert merge_threads([("<p@x>", "T1"), ("<q@x>", "T2")]) == {}
    assert merge_threads([]) == {}


# The model test: arrivals in any order, in batches of any size, merged the way the store
# merges them, group the messages exactly as the connected parts of the whole graph do.

POOL = [f"<m{i}@x.test>" for i in range(8)]
Message = tuple[str | None, tuple[str, ...]]  # (own id, references)

messages_strategy = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from(POOL)),
        st.lists(st.sampled_from(POOL), max_size=4).map(tuple),
    ),
    max_size=12,
)


def _headers(message: Message) -> ThreadHeaders:
    own, refs = message
    return ThreadHeaders(message_id=own, references=tuple(r for r in refs if r != own))


def _components(messages: list[Message]) -> set[frozenset[int]]:
    """The oracle: connected parts of the graph of entries and the ids they name."""
    seen: set[int] = set()
    groups: set[frozenset[int]] = set()
    for start in range(len(messages)):
        if start in seen:
            continue
        group, todo = {start}, [start]
        while todo:
            ids = set(_headers(messages[todo.pop()]).linked_ids)
            for other, message in enumerate(messages):
                if other not in group and ids & set(_headers(message).linked_ids):
                    group.add(other)
                    todo.append(other)
        seen |= group
        groups.add(frozenset(group))
    return groups


def _store_in_batches(messages: list[Message], batches: Iterable[list[int]]) -> dict[int, str]:
    """What the store does: each new entry starts in a thread named by its own id (ids
    sort by arrival, as entry ids do), links are recorded, touching threads merged."""
    thread: dict[int, str] = {}
    links: list[tuple[str, int]] = []
    for number, batch in enumerate(batches):
        for index in batch:
            thread[index] = f"{number:04d}-{index:04d}"
            links.extend(
                (node, index) for node in dict.fromkeys(_headers(messages[index]).linked_ids)
            )
        nodes = {node for index in batch for node in _headers(messages[index]).linked_ids}
        renames = merge_threads((node, thread[index]) for node, index in links if node in nodes)
        thread = {index: renames.get(name, name) for index, name in thread.items()}
    return thread


@settings(max_examples=300, deadline=None)
@given(messages=messages_strategy, data=st.data())
def test_arrival_order_and_batching_do_not_change_the_grouping(
    messages: list[Message], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(range(len(messages))))
    cuts = sorted(data.draw(st.sets(st.integers(0, len(order)), max_size=4)))
    batches = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    thread = _store_in_batches(messages, [batch for batch in batches if batch])
    grouping: dict[str, set[int]] = {}
    for index, name in thread.items():
        grouping.setdefault(name, set()).add(index)
    assert {frozenset(group) for group in grouping.values()} == _components(messages)
