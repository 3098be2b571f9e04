"""Conversation threads: the Message-ID, In-Reply-To and References of a message, read
into bounded normalised ids, and the rule that groups a mailbox's entries into threads.

Pure (no I/O); the entry store keeps what this computes.

The rule (the JWZ idea, simplified): every message-id is a node, every entry a node too,
and an entry is joined to its own Message-ID and to every id it names in In-Reply-To or
References. A thread is a connected part of that graph, within ONE mailbox. So a reply
joins its parent's thread, a parent that arrives late pulls in the replies that came
before it, and two replies that name the same missing parent share a thread (as JWZ's
empty container does). The grouping depends only on the set of entries, never on the
order they arrived in: the store assigns a thread id at store time and, when a new entry
links threads that were apart, renames every thread it touches to the smallest of their
ids (:func:`merge_threads`). Threads never split: deleting the entry that joined two
threads leaves them joined.

Hostile headers cannot blow up a row: an id longer than :data:`MAX_ID_LENGTH` is dropped
(not cut, which could make it collide with another), and at most
:data:`MAX_REFERENCES` ids are kept (the first of References, its root, and the last
ones, nearest the parent).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# RFC 5322 lines stop at 998 characters; real ids are well under 100.
MAX_ID_LENGTH = 250
MAX_REFERENCES = 32
# A msg-id's bracketed text, without whitespace or nested brackets; the length bound keeps
# the regex from collecting a megabyte-long "id".
_BRACKETED = re.compile(r"<([^<>\s]{1,%d})>" % (MAX_ID_LENGTH - 2))  # noqa: UP031


@dataclass(frozen=True, slots=True)
class ThreadHeaders:
    """The threading headers of one message, normalised (``<left@right>`` forms)."""

    message_id: str | None = None
    in_reply_to: str | None = None
    # References, then In-Reply-To if References lacked it; the message's own id excluded.
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # The bounds hold for headers built anywhere, not only by thread_headers().
        ids = [i for i in (self.message_id, self.in_reply_to, *self.references) if i]
        if len(self.references) > MAX_REFERENCES or any(len(i) > MAX_ID_LENGTH for i in ids):
            raise ValueError(
                f"at most {MAX_REFERENCES} references of at most {MAX_ID_LENGTH} characters"
            )

    @property
    def linked_ids(self) -> tuple[str, ...]:
        """Every id this message is joined to in the thread graph (its own first)."""
        own = (self.message_id,) if self.message_id else ()
        return own + self.references


def normalised_msg_id(text: str) -> str | None:
    """The first well-formed ``<left@right>`` id in ``text``, host part lower-cased;
    None when there is none (or it is too long)."""
    ids = msg_ids(text, limit=1)
    return ids[0] if ids else None


def msg_ids(text: str, limit: int | None = None) -> list[str]:
    """The well-formed msg-ids in ``text`` in order (comments and junk between them are
    skipped), each normalised; at most ``limit`` of them."""
    found: list[str] = []
    for match in _BRACKETED.finditer(text):
        normal = _normalised(match.group(1))
        if normal is not None:
            found.append(normal)
            if limit is not None and len(found) >= limit:
                break
    return found


def _normalised(inner: str) -> str | None:
    left, at, right = inner.rpartition("@")
    if not at or not left or not right:
        return None
    if any(ord(c) < 33 or ord(c) == 127 for c in inner):
        return None
    # The left part is case-sensitive (RFC 5322 §3.6.4 compares ids octet by octet), but
    # the right part is a domain, which some software re-cases.
    return f"<{left}@{right.lower()}>"


def thread_headers(headers: Sequence[tuple[str, str]]) -> ThreadHeaders:
    """The threading headers among ``headers`` (name, value) pairs; the first of each
    header counts, as a duplicated one is either a mistake or an attack."""
    values: dict[str, str] = {}
    for name, value in headers:
        values.setdefault(name.lower(), value)
    own = normalised_msg_id(values.get("message-id", ""))
    in_reply_to = normalised_msg_id(values.get("in-reply-to", ""))
    references = msg_ids(values.get("references", ""))
    if in_reply_to is not None and in_reply_to not in references:
        references.append(in_reply_to)
    kept = [ref for ref in dict.fromkeys(references) if ref != own]
    if len(kept) > MAX_REFERENCES:
        # The root and the nearest ancestors say the most about where a message belongs.
        kept = kept[:1] + kept[-(MAX_REFERENCES - 1) :]
    return ThreadHeaders(message_id=own, in_reply_to=in_reply_to, references=tuple(kept))


def merge_threads(links: Iterable[tuple[object, str]]) -> dict[str, str]:
    """Which threads a new arrival has joined: ``links`` are (node, thread id) pairs, one
    for each entry that names the node (a message-id), new entries included. Threads that
    share a node are one thread from now on; the answer maps each thread id to its new
    id, the smallest id of its group (only ids that change are in it)."""
    parent: dict[str, str] = {}

    def root(thread: str) -> str:
        while parent.setdefault(thread, thread) != thread:
            parent[thread] = parent[parent[thread]]  # path halving keeps the trees flat
            thread = parent[thread]
        return thread

    first_on_node: dict[object, str] = {}
    for node, thread in links:
        other = first_on_node.setdefault(node, thread)
        a, b = root(thread), root(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    renames = {thread: root(thread) for thread in list(parent)}
    return {thread: new for thread, new in renames.items() if new != thread}
