"""When a deferral owes its one "delayed" DSN: NOTIFY (and our default for none), the
warning's age, a reverse path, not warned before; and until when the recipient is retried."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mairust.config import OutboundSettings
from mairust.model.message import MessageRef
from mairust.model.outbound import (
    AttemptOutcome,
    AttemptResult,
    DeliveryAttempt,
    OutboundItem,
    RecipientState,
)
from mairust.outbound.delay_warnings import DelayWarnings, delay_requested

QUEUED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
SETTINGS = OutboundSettings(delay_warning_seconds=4 * 3600, expire_seconds=5 * 86400)
ROW = OutboundItem(
    id=1,
    message=MessageRef("m1", 10, "0" * 64, "m1"),
    mail_from="ann@ours.test",
    recipient="joe@far.test",
    destination="far.test",
    state=RecipientState.LEASED,
    attempts=4,
    next_attempt_at=QUEUED,
    created_at=QUEUED,
)


def outcome(result: AttemptResult = AttemptResult.DEFERRED) -> AttemptOutcome:
    attempt = DeliveryAttempt(1, "m1", "joe@far.test", QUEUED, result, "451 4.2.0 busy")
    return AttemptOutcome(attempt, QUEUED + timedelta(hours=5))


@pytest.mark.parametrize(
    ("notify", "without_notify", "wanted"),
    [
        ((), True, True),
        ((), False, False),
        (("DELAY",), False, True),
        (("delay", "FAILURE"), False, True),
        (("FAILURE",), True, False),
        (("SUCCESS", "FAILURE"), True, False),
        (("NEVER",), True, False),
    ],
)
def test_notify_asks_for_a_delay_dsn(
    notify: tuple[str, ...], without_notify: bool, wanted: bool
) -> None:
    assert delay_requested(notify, without_notify) is wanted


def test_a_deferral_warns_once_past_its_age_until_its_expiry() -> None:
    warnings = DelayWarnings.from_settings(SETTINGS)
    expiry = QUEUED + timedelta(days=5)
    early = QUEUED + timedelta(hours=3, minutes=59)
    late = QUEUED + timedelta(hours=4)
    assert warnings.due(ROW, outcome(), early) is None
    assert warnings.due(ROW, outcome(), late) == expiry
    assert warnings.due(replace(ROW, delay_notified_at=late), outcome(), late) is None
    assert warnings.due(replace(ROW, mail_from=""), outcome(), late) is None  # never to <>
    assert warnings.due(replace(ROW, notify=("FAILURE",)), outcome(), late) is None
    assert warnings.due(ROW, outcome(AttemptResult.EXPIRED), late) is None
    assert warnings.due(ROW, outcome(AttemptResult.BOUNCED), late) is None


def test_zero_turns_warnings_off_and_the_default_is_four_hours() -> None:
    off = DelayWarnings.from_settings(SETTINGS.model_copy(update={"delay_warning_seconds": 0}))
    notified = replace(ROW, notify=("DELAY",))
    assert off.due(notified, outcome(), QUEUED + timedelta(days=4)) is None
    assert OutboundSettings().delay_warning_seconds == 4 * 3600
    assert OutboundSettings().delay_warning_without_notify is True
