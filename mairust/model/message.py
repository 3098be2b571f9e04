"""What travels between components: references to bodies, never bodies (invariant 3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mairust.events import Event
from mairust.model.annotations import Annotations

if TYPE_CHECKING:  # model.outbound imports MessageRef from here
    from mairust.model.outbound import RemoteRecipient


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """Where a durable body lies in the blob store."""

    key: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message by reference: its id and the blob that holds its bytes."""

    id: str
    size: int
    sha256: str
    blob_key: str


@dataclass(frozen=True, slots=True)
class Envelope:
    """One SMTP transaction as accepted (RFC 5321 envelope plus connection facts)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    received_at: datetime
    helo: str = ""
    client_ip: str = ""
    authenticated_as: str | None = None
    mail_options: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """One accepted message as the spool commits it: metadata row plus one queue row per rcpt."""

    ref: MessageRef
    envelope: Envelope
    # mairust.auth.results.AuthResults.to_json() of the checks made before 250, if any.
    auth_results: dict[str, Any] | None = None
    annotations: Annotations = field(default_factory=Annotations)
    # The Reception events committed with it (one per recipient, in its tenant).
    events: tuple[Event, ...] = ()
    # Recipients that go to the outbound queue (one row each) instead of a local queue
    # row; the envelope's other recipients are local. RFC 3461 RET and ENVID for DSNs.
    remote: tuple[RemoteRecipient, ...] = ()
    dsn_ret: str | None = None
    dsn_envid: str | None = None
