"""What a report about our outbound mail changes: which of the original message's
recipients a DSN says failed after all, and whom an ARF complaint asks us to stop mailing.

Reports arrive as ordinary mail (the pipeline's ``reports`` stage reads them with
:func:`mairust.outbound.report_parsing.parse_report`). The original message is found by
the ids it carries back: the queue id in our own ``Received:`` trace line (``by HOST
(MaiRust) with PROTO id ID``, stamped on everything submitted through SMTP or the API)
and the left part of a Message-ID the send API wrote (``<ID@domain>``). Both are 80 random
bits that only those who saw the message know, and a report is trusted only where it
could come from: a DSN must be addressed to the original's reverse path (RFC 3464's
return path), a complaint to a mailbox of the original's tenant. Then it can only touch
recipients of that very message.

Pure: no I/O; the stage looks the rows up and applies the :class:`ReportEffects`.
A DSN moves a recipient only from DELIVERED (a later failure after the remote 250; the
rows the delivery loop still holds it settles itself); that, and suppression's keeping
of the first entry, make a report read twice change nothing the second time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mairust.model.outbound import AttemptResult, DeliveryAttempt, OutboundItem, RecipientState
from mairust.model.suppression import Suppression, SuppressionReason, suppression_key
from mairust.outbound.dsn_fields import DsnAction
from mairust.outbound.report_parsing import ComplaintReport, DeliveryReport

# Our queue ids (mairust.model.ids.new_id): 26 characters of Crockford's base32.
_ID = rb"[0-9A-HJKMNP-TV-Z]{26}"
_OUR_TRACE = re.compile(rb"\(MaiRust\)\s+with\s+[A-Za-z0-9]+\s+id\s+(" + _ID + rb")\b")
_OUR_MESSAGE_ID = re.compile(r"<(" + _ID.decode() + r")@[^<>\s]+>")
# Feedback types that mean "this recipient does not want this mail" (RFC 5965 §7.3):
# not-spam, virus and auth-failure say something else.
COMPLAINT_TYPES = frozenset({"abuse", "fraud"})
DSN_TAG = "report:dsn"
COMPLAINT_TAG = "report:complaint"
_MAX_DETAIL = 400


@dataclass(frozen=True, slots=True)
class ReportEffects:
    """What one report changes: recipients bounced after delivery, addresses suppressed."""

    bounced: tuple[DeliveryAttempt, ...] = ()
    # Hard bounces (recorded with their bounce) and complaints (on their own).
    bounce_suppressions: tuple[Suppression, ...] = ()
    complaint_suppressions: tuple[Suppression, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.bounced or self.bounce_suppressions or self.complaint_suppressions)


def original_ids(
    report: DeliveryReport | ComplaintReport, raw: bytes, own_id: str
) -> tuple[str, ...]:
    """The queue ids ``raw`` (the report as received, id ``own_id``) names as its original:
    our trace ids in the returned headers, then a Message-ID the send API wrote."""
    found = [match.decode("ascii") for match in _OUR_TRACE.findall(raw)]
    if report.original_message_id:
        written = _OUR_MESSAGE_ID.fullmatch(report.original_message_id.strip())
        if written:
            found.append(written.group(1))
    # The report's own Received line (added when it reached us) names the report itself.
    return tuple(queue_id for queue_id in dict.fromkeys(found) if queue_id != own_id)


def dsn_effects(
    report: DeliveryReport,
    rows: Sequence[OutboundItem],
    delivered_to: str,
    now: datetime,
) -> ReportEffects:
    """The bounces a DSN delivered to ``delivered_to`` reports among ``rows`` (one original
    message's recipients): failed recipients whose row says DELIVERED, and a suppression
    for each whose bounce class says the address is dead."""
    if not rows or not _same(rows[0].mail_from, delivered_to):
        return ReportEffects()
    by_recipient = {suppression_key(row.recipient): row for row in rows}
    bounced: list[DeliveryAttempt] = []
    suppress: list[Suppression] = []
    for reported in report.recipients:
        if reported.action is not DsnAction.FAILED:
            continue
        row = by_recipient.get(suppression_key(reported.final_recipient))
        if row is None and reported.original_recipient:
            row = by_recipient.get(suppression_key(reported.original_recipient))
        if row is None or row.state is not RecipientState.DELIVERED:
            continue
        classification = reported.classification
        reply = _one_line(reported.diagnostic or f"{reported.status} (reported by DSN)")
        bounced.append(
            DeliveryAttempt(
                recipient_id=row.id,
                message_id=row.message.id,
                recipient=row.recipient,
                at=now,
                result=AttemptResult.BOUNCED,
                reply=reply,
                host=reported.remote_mta or report.reporting_mta,
                bounce_class=classification.bounce_class.value,
            )
        )
        if classification.hard and row.tenant_id is not None:
            reporter = report.reporting_mta or "a remote MTA"
            suppress.append(
                Suppression(
                    row.tenant_id,
                    suppression_key(row.recipient),
                    SuppressionReason.HARD_BOUNCE,
                    now,
                    _one_line(f"DSN from {reporter} after delivery: {reply}"),
                )
            )
    return ReportEffects(bounced=tuple(bounced), bounce_suppressions=tuple(suppress))


def complaint_effects(
    report: ComplaintReport,
    rows: Sequence[OutboundItem],
    receiving_tenant: str | None,
    now: datetime,
) -> ReportEffects:
    """The suppressions an ARF complaint received by a mailbox of ``receiving_tenant``
    asks for among ``rows``: the complained-about recipients (Original-Rcpt-To; when the
    reporter redacted it, the message's only recipient), in the original's tenant."""
    if report.feedback_type not in COMPLAINT_TYPES or not rows:
        return ReportEffects()
    tenant = rows[0].tenant_id
    if tenant is None or tenant != receiving_tenant:
        return ReportEffects()
    ours = {suppression_key(row.recipient) for row in rows}
    named = {suppression_key(address) for address in report.original_rcpt_to}
    # Providers often redact the recipient: then only a one-recipient message says whom.
    only = ours if len(ours) == 1 else set()
    complained = sorted(ours & named if named else only)
    reporter = report.reporting_mta or report.user_agent or "a mailbox provider"
    detail = _one_line(f"ARF {report.feedback_type} report from {reporter}")
    return ReportEffects(
        complaint_suppressions=tuple(
            Suppression(tenant, address, SuppressionReason.COMPLAINT, now, detail)
            for address in complained
        )
    )


def _same(address: str, other: str) -> bool:
    return suppression_key(address) == suppression_key(other)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:_MAX_DETAIL]
