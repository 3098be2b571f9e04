"""The tenant events the SMTP edge records: a Reception per accepted recipient, a
Rejection per refused one, each in the recipient's tenant.

A refusal belongs to a tenant only when its recipient is local: a known mailbox (its
tenant) or an unknown user of a local domain (the domain's tenant, so a tenant sees the
mail it lost to a typo). Refusals with no local recipient (relaying denied, a malformed
address, a refusal at MAIL, a lookup that failed) have no tenant: they are written to
the ``mairust.events`` log only, never to a tenant's event log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from mairust.auth.results import AuthResults
from mairust.events import Event, RecordType
from mairust.model.ids import new_id
from mairust.model.message import Envelope
from mairust.model.threads import normalised_msg_id
from mairust.model.verdict import Verdict, VerdictKind

# Where the Message-ID is looked for: the header section, at most this much of it.
_HEADER_SCAN = 64 * 1024
_MESSAGE_ID_LINE = re.compile(rb"^message-id:[ \t]*([^\r\n]{1,998})", re.IGNORECASE | re.MULTILINE)


def header_message_id(message: bytes) -> str | None:
    """The normalised ``Message-ID:`` of ``message`` (CRLF lines), None if it has none.

    A cheap scan of the header section only, run on the SMTP path: the full parse is the
    pipeline's.
    """
    end = message.find(b"\r\n\r\n", 0, _HEADER_SCAN)
    head = message[: end if end >= 0 else _HEADER_SCAN]
    found = _MESSAGE_ID_LINE.search(head)
    if found is None:
        return None
    return normalised_msg_id(found.group(1).decode("latin-1"))


def reception_detail(
    accepted: Envelope, size: int, auth_results: AuthResults | None, verdict: Verdict
) -> dict[str, Any]:
    """What a Reception event tells of the way in (the message trace's steps): the client
    and sender, the checks' words (``spf``, ``dkim``, ``dmarc``, ``arc``; none for mail
    from a trusted network or an authenticated sender) and, when the checks or a hook
    decided more than "continue" or annotated the message, that verdict: its kind, who
    decided, why, and the tags and folder it gave."""
    detail: dict[str, Any] = {
        "client": accepted.client_ip,
        "mail_from": accepted.mail_from,
        "size": size,
        # Empty: not checked (a trusted network's client, an authenticated sender).
        "checks": auth_results.summary_words() if auth_results is not None else {},
    }
    notes = verdict.annotations
    if verdict.kind is not VerdictKind.CONTINUE or notes.tags or notes.folder:
        decided: dict[str, Any] = {"kind": verdict.kind.value, "by": str(verdict.source)}
        if verdict.reason:
            decided["reason"] = verdict.reason[:200]
        if notes.tags:
            decided["tags"] = list(notes.tags)
        if notes.folder:
            decided["folder"] = notes.folder
        detail["verdict"] = decided
    return detail


def reception_events(
    message_id: str,
    header_id: str | None,
    tenants: Mapping[str, str],
    at: datetime,
    detail: Mapping[str, Any],
) -> tuple[Event, ...]:
    """One Reception per recipient (``tenants``: recipient → tenant id)."""
    return tuple(
        Event(
            id=new_id(),
            tenant_id=tenant_id,
            kind=RecordType.RECEPTION,
            at=at,
            message_id=message_id,
            header_message_id=header_id,
            recipient=recipient,
            detail=dict(detail),
        )
        for recipient, tenant_id in tenants.items()
    )


def rejection_events(
    reply: str,
    recipients: Iterable[tuple[str, str]],
    detail: Mapping[str, Any],
    transaction_id: str,
    header_id: str | None = None,
) -> list[Event]:
    """One Rejection per (recipient, tenant id), with the reply the client got, under the
    transaction's id: the queue id its message gets if it is accepted after all, so that
    a trace of that message shows the recipients refused on its way in."""
    now = datetime.now(UTC)
    return [
        Event(
            id=new_id(),
            tenant_id=tenant_id,
            kind=RecordType.REJECTION,
            at=now,
            message_id=transaction_id,
            header_message_id=header_id,
            recipient=recipient,
            reply=reply,
            detail=dict(detail),
        )
        for recipient, tenant_id in recipients
    ]
