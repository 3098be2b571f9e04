"""The working state the stages share while a batch is processed, and their outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field

from mairust.model.mailbox import MailboxEntry
from mairust.model.message import MessageRef
from mairust.model.parsing import ParsedMessage
from mairust.model.queue import QueueItem
from mairust.routing.router import Route
from mairust.storage.stores import Stores


@dataclass(frozen=True, slots=True)
class Delivered:
    """The recipient's copy is in place; the queue row is done."""


@dataclass(frozen=True, slots=True)
class Deferred:
    """A temporary failure: try again later."""

    reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    """A permanent failure: the queue row ends here (a DSN follows with outbound)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Discarded:
    """A hook's ``discard``: the queue row is done and no copy is kept (an event says so)."""

    reason: str
    by: str = ""


Outcome = Delivered | Deferred | Failed | Discarded


@dataclass(slots=True)
class MessageWork:
    """One message of the batch: its bytes are loaded and parsed once for all recipients."""

    ref: MessageRef
    raw: bytes | None = None
    parsed: ParsedMessage | None = None


@dataclass(slots=True)
class RecipientWork:
    """One queue row (message, recipient) travelling through the stages."""

    item: QueueItem
    message: MessageWork
    route: Route | None = None
    # One per mailbox the route delivers to (an alias has several), in route order.
    entries: list[MailboxEntry] = field(default_factory=list)


@dataclass(slots=True)
class BatchContext:
    """What every stage may use: the stores, and lookups shared by the rows of one batch."""

    stores: Stores
    # Routes found in this batch: rows of one batch mostly share a few mailboxes.
    routes: dict[str, Route] = field(default_factory=dict)
