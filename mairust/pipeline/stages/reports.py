"""Stage ``reports``: DSNs and ARF complaints about our outbound mail, read as they arrive.

A report is mail (to a sender's address, or a feedback address): it goes on to the
mailbox like any other, tagged ``report:dsn`` or ``report:complaint``. On its way it
updates what it reports on (``mairust.outbound.report_intake``): recipients of ours that
a remote MTA took (250) and failed later are BOUNCED, with an attempt that says so in the
message trace and, when the address is dead, a suppression; a complaint suppresses the
complained-about recipient in the original's tenant. Each message is read once per
batch, whatever its number of recipients here. Nothing here ends a row: a store that
cannot be reached defers it (the report must not be lost), and a bug of ours is logged
and the mail delivered anyway.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from mairust.errors import StorageUnavailable
from mairust.model.annotations import Annotations
from mairust.model.outbound import OutboundItem
from mairust.outbound.report_intake import (
    COMPLAINT_TAG,
    DSN_TAG,
    ReportEffects,
    complaint_effects,
    dsn_effects,
    original_ids,
)
from mairust.outbound.report_parsing import (
    ComplaintReport,
    DeliveryReport,
    ParsedReport,
    parse_report,
)
from mairust.pipeline.stages.base import Ended
from mairust.pipeline.work import BatchContext, Deferred, RecipientWork
from mairust.routing.router import AliasTargets, LocalMailbox
from mairust.storage.stores import Stores

_log = logging.getLogger(__name__)
# A report names one original message; more ids than this in one is not a report of ours.
_MAX_ORIGINALS = 4
_ROWS_PER_MESSAGE = 1000


class ReportsStage:
    name: ClassVar[str] = "reports"
    description: ClassVar[str] = (
        "Read DSNs and ARF complaints about our outbound mail: bounce recipients that "
        "failed after delivery, suppress dead and complaining addresses, tag the report."
    )

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock

    def run(self, works: Sequence[RecipientWork], batch: BatchContext) -> Ended:
        reports: dict[str, ParsedReport] = {}
        ended: Ended = {}
        for work in works:
            raw = work.message.raw
            if raw is None or not _may_be_report(work):
                continue  # most mail: one look at the parsed headers, no second parse
            message_id = work.message.ref.id
            if message_id not in reports:
                reports[message_id] = parse_report(raw)
            report = reports[message_id]
            if not isinstance(report, DeliveryReport | ComplaintReport):
                continue
            tag = DSN_TAG if isinstance(report, DeliveryReport) else COMPLAINT_TAG
            work.item = dataclasses.replace(
                work.item, annotations=work.item.annotations.merged(Annotations(tags=(tag,)))
            )
            try:
                self._apply(batch.stores, report, raw, work)
            except StorageUnavailable as error:  # the report must not be lost: later
                ended[work.item.id] = Deferred(f"4.3.0 {self.name}: {error}")
            except Exception:
                # A bug of ours must not hold the mail back: it is delivered unapplied.
                _log.exception("reports: could not apply the report %s", message_id)
        return ended

    def _apply(
        self,
        stores: Stores,
        report: DeliveryReport | ComplaintReport,
        raw: bytes,
        work: RecipientWork,
    ) -> None:
        now = self._clock()
        originals = original_ids(report, raw, work.message.ref.id)[:_MAX_ORIGINALS]
        for original in originals:
            rows = _rows(stores, original)
            if not rows:
                continue
            if isinstance(report, DeliveryReport):
                effects = dsn_effects(report, rows, work.item.recipient, now)
            else:
                effects = complaint_effects(report, rows, _tenant_of(work), now)
            _record(stores, effects, now)


def _may_be_report(work: RecipientWork) -> bool:
    """Whether the message says it is a ``multipart/report`` (every DSN and ARF does)."""
    parsed = work.message.parsed
    if parsed is None:
        return False
    for name, value in parsed.headers:
        if name.lower() == "content-type":
            return value.strip().lower().startswith("multipart/report")
    return False


def _rows(stores: Stores, message_id: str) -> list[OutboundItem]:
    return stores.metadata.list_outbound(message_id=message_id, limit=_ROWS_PER_MESSAGE)


def _record(stores: Stores, effects: ReportEffects, now: datetime) -> None:
    if effects.bounced:
        changed = stores.metadata.record_remote_bounces(
            effects.bounced, now, effects.bounce_suppressions
        )
        if changed:
            _log.info("reports: %d recipient(s) bounced after delivery", changed)
    if effects.complaint_suppressions:
        added = stores.metadata.add_suppressions(effects.complaint_suppressions)
        if added:
            _log.info("reports: %d complaint suppression(s)", added)


def _tenant_of(work: RecipientWork) -> str | None:
    match work.route:
        case LocalMailbox(mailbox=mailbox):
            return mailbox.tenant_id
        case AliasTargets(mailboxes=mailboxes):
            tenants = {mailbox.tenant_id for mailbox in mailboxes}
            return tenants.pop() if len(tenants) == 1 else None
    return None
