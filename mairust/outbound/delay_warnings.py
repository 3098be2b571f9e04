"""Which deferred recipients owe their sender a "delayed" DSN now (RFC 3464 ``Action:
delayed``, RFC 3461 ``NOTIFY=DELAY``; Postfix's delay_warning_time), and until when they
are retried (the DSN's ``Will-Retry-Until``).

Pure: the delivery loop asks about each deferral it settles; the row's
``delay_notified_at``, set in the same transaction as the DSN, makes it once per recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mairust.config import OutboundSettings
from mairust.model.outbound import AttemptOutcome, AttemptResult, OutboundItem
from mairust.outbound.retry import RetrySchedule


def delay_requested(notify: Sequence[str], without_notify: bool) -> bool:
    """Whether NOTIFY asks for a delay DSN: DELAY given; or no NOTIFY at all and our
    default says so (RFC 3461 section 4.1 leaves that case to the MTA)."""
    keywords = {keyword.strip().upper() for keyword in notify if keyword.strip()}
    if not keywords:
        return without_notify
    return "DELAY" in keywords and "NEVER" not in keywords


@dataclass(frozen=True, slots=True)
class DelayWarnings:
    """When a deferral warns: past ``after`` since the row was queued, not warned before,
    a reverse path to warn (never ``<>``) and NOTIFY asking. ``after`` zero: never."""

    after: timedelta
    without_notify: bool
    schedule: RetrySchedule

    @classmethod
    def from_settings(cls, settings: OutboundSettings) -> DelayWarnings:
        return cls(
            after=timedelta(seconds=settings.delay_warning_seconds),
            without_notify=settings.delay_warning_without_notify,
            schedule=RetrySchedule.from_settings(settings),
        )

    def due(self, item: OutboundItem, outcome: AttemptOutcome, now: datetime) -> datetime | None:
        """Until when ``item`` is retried, if ``outcome`` owes its one delay DSN; else None."""
        if (
            not self.after
            or outcome.attempt.result is not AttemptResult.DEFERRED
            or item.delay_notified_at is not None
            or not item.mail_from
            or now - item.created_at < self.after
            or not delay_requested(item.notify, self.without_notify)
        ):
            return None
        return self.schedule.expires_at(item.created_at)
