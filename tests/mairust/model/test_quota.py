"""Which quota applies to a mailbox, and when it is full."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from mairust.model.directory import Mailbox
from mairust.model.quota import MailboxUsage, is_full, quota_limit

BOX = Mailbox("mb1", "t1", "a@example.test", datetime(2026, 1, 1, tzinfo=UTC))


def test_a_mailbox_without_its_own_quota_takes_the_default() -> None:
    assert quota_limit(BOX, 1000) == 1000
    assert quota_limit(replace(BOX, quota_bytes=5), 1000) == 5
    assert quota_limit(replace(BOX, quota_bytes=0), 1000) == 0


def test_full_means_usage_reached_a_limit_and_zero_is_unlimited() -> None:
    assert not is_full(replace(BOX, used_bytes=999), 1000)
    assert is_full(replace(BOX, used_bytes=1000), 1000)
    assert is_full(replace(BOX, used_bytes=2000), 1000)
    assert not is_full(replace(BOX, used_bytes=10**12), 0)
    assert not is_full(replace(BOX, used_bytes=10**12, quota_bytes=0), 1000)


def test_usage_as_a_client_sees_it() -> None:
    usage = MailboxUsage.of(replace(BOX, used_bytes=7, quota_bytes=None), 7)
    assert usage == MailboxUsage("mb1", "a@example.test", None, 7, 7, True)
