"""The hook points, each declared once: when it runs, whether the transaction waits for it,
and which data scopes exist there (an envelope-only point has no body to give)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class HookPoint(enum.StrEnum):
    CONNECT = "connect"
    MAIL_FROM = "mail_from"
    RCPT_TO = "rcpt_to"
    PRE_RECEIVE = "pre_receive"
    POST_RECEIVE = "post_receive"
    PRE_DELIVERY = "pre_delivery"
    PRE_SEND = "pre_send"


class DataScope(enum.StrEnum):
    """What of a message a plugin may be given; the platform builds the payload per scope."""

    ENVELOPE = "envelope"
    HEADERS = "headers"
    BODY_PREVIEW = "body-preview"  # the first N KiB of the text
    FULL_BODY = "full-body"
    ATTACHMENTS = "attachments"


_ENVELOPE_ONLY = frozenset({DataScope.ENVELOPE})
_WHOLE_MESSAGE = frozenset(DataScope)


@dataclass(frozen=True, slots=True)
class PointSpec:
    point: HookPoint
    # The transaction (or delivery) waits for the verdicts: parallel, under one deadline.
    synchronous: bool
    scopes: frozenset[DataScope]
    description: str


POINTS: dict[HookPoint, PointSpec] = {
    spec.point: spec
    for spec in (
        PointSpec(HookPoint.CONNECT, True, _ENVELOPE_ONLY, "a client connects (its address, HELO)"),
        PointSpec(HookPoint.MAIL_FROM, True, _ENVELOPE_ONLY, "MAIL FROM, before its reply"),
        PointSpec(
            HookPoint.RCPT_TO,
            True,
            _ENVELOPE_ONLY,
            "each RCPT TO, before its reply: refusing here costs far less than after DATA",
        ),
        PointSpec(HookPoint.PRE_RECEIVE, True, _WHOLE_MESSAGE, "the end of DATA, before the 250"),
        PointSpec(
            HookPoint.POST_RECEIVE,
            False,
            _WHOLE_MESSAGE,
            "after the 250: a durable job, retried, applied once",
        ),
        PointSpec(
            HookPoint.PRE_DELIVERY,
            True,
            _WHOLE_MESSAGE,
            "in the pipeline, before a mailbox or a forward",
        ),
        PointSpec(
            HookPoint.PRE_SEND,
            True,
            _WHOLE_MESSAGE,
            "submission and POST /api/v1/send, before the spool commit",
        ),
    )
}
